#!/bin/bash
# The man pages against the code: mandoc -Tlint clean; every option of
# EDR_OPTION_TABLE (src/common/opts.h) documented in etcd-dr(1) with its
# environment variable, config key and default, and in etcd-dr.conf(5) under
# its section; every exit code of EDR_ERROR_TABLE (src/common/err.h) in EXIT
# STATUS; every command of src/main.c in COMMANDS, and each command's option
# list there equal to what `etcd-dr help CMD` prints. The tables are parsed
# from the sources, so an option, code or command added without documentation
# fails here. No etcd needed.
BASE_PORT=23900
. "$(dirname "$0")/lib.sh"

MAN=$SRCDIR/man
[ -x "$EDR" ] || bail "no etcd-dr binary at $EDR"
command -v mandoc >/dev/null || bail "mandoc not installed"

for page in etcd-dr.1 etcd-dr.conf.5 etcd-dr-format.5; do
    if [ ! -f "$MAN/$page" ]; then
        not_ok "$page exists"
        continue
    fi
    if mandoc -Tlint -W warning "$MAN/$page" >"$T/lint" 2>&1 && [ ! -s "$T/lint" ]; then
        ok "$page: mandoc -Tlint -W warning is clean"
    else
        not_ok "$page: mandoc -Tlint -W warning"
        sed 's/^/#   /' "$T/lint" | head -20
    fi
done

# `etcd-dr help CMD` for every command of main.c's table, into $T/help/CMD.
mkdir -p "$T/help"
python3 - "$SRCDIR/src/main.c" >"$T/commands" <<'PY' || bail "cannot parse src/main.c"
import re, sys
src = open(sys.argv[1]).read()
table = re.search(r'static const struct edr_cmd commands\[\] = \{(.*?)\n\};', src, re.S)
names = re.findall(r'\{\s*"([a-z]+)",\s*edr_cmd_', table.group(1))
if len(names) < 10:
    sys.exit(1)
print("\n".join(names))
PY
while read -r cmd; do
    "$EDR" help "$cmd" >"$T/help/$cmd" 2>&1 || not_ok "etcd-dr help $cmd exits 0"
done <"$T/commands"
diag "commands: $(tr '\n' ' ' <"$T/commands")"

# The checks proper: one line per test point, "ok|description" or
# "not ok|description|detail".
python3 - "$SRCDIR" "$T/help" "$T/commands" >"$T/results" <<'PY'
import os, re, sys

srcdir, helpdir, cmdfile = sys.argv[1:4]
man1 = open(os.path.join(srcdir, "man/etcd-dr.1")).read()
man5 = open(os.path.join(srcdir, "man/etcd-dr.conf.5")).read()
GLOBAL = {"config", "log-level", "log-format", "quiet", "no-progress"}


def result(good, desc, detail=""):
    print(("ok|%s" if good else "not ok|%s|%s") % (desc, detail) if not good else "ok|" + desc)


def sections(text):
    """.Sh NAME -> body (source lines up to the next .Sh)."""
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith(".Sh "):
            name = line[4:].strip()
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def strlit(s):
    """Concatenate the C string literals in s ("a" "b" -> ab); None for NULL."""
    s = s.strip()
    if s == "NULL":
        return None
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', s))


# --- EDR_OPTION_TABLE --------------------------------------------------------
opts_h = open(os.path.join(srcdir, "src/common/opts.h")).read()
m = re.search(r'#define EDR_OPTION_TABLE\(X\)(.*?)\n\s*\n', opts_h, re.S)
body = m.group(1).replace("\\\n", " ")
STR = r'(?:NULL|(?:"(?:[^"\\]|\\.)*"\s*)+)'
opt_re = re.compile(r'X\(\s*(\w+)\s*,\s*("[^"]*")\s*,\s*(0|\'.\')\s*,\s*(\w+)\s*,\s*(' + STR +
                    r')\s*,\s*(' + STR + r')\s*,\s*(' + STR + r')\s*,\s*(' + STR + r')\s*,\s*(' +
                    STR + r')\s*,\s*(' + STR + r')\s*\)')
options = []
for x in opt_re.finditer(body):
    options.append(dict(id=x.group(1), name=strlit(x.group(2)), short=x.group(3),
                        type=x.group(4), section=strlit(x.group(5)), key=strlit(x.group(6)),
                        env=strlit(x.group(7)), default=strlit(x.group(8))))
# every X( entry must have parsed, or the checks below would silently shrink
n_entries = len(re.findall(r'\bX\(', body))
result(len(options) == n_entries and len(options) > 40,
       "parsed all %d entries of EDR_OPTION_TABLE" % n_entries, "parsed %d" % len(options))

s1 = sections(man1)
opt_lines = s1.get("OPTIONS", [])


def option_entry(name):
    """Source lines of the .It entry for --name in OPTIONS, or None."""
    pat = re.compile(r'^\.It Fl (?:[A-Za-z] , Fl )?-' + re.escape(name) + r'(?: |$)')
    for i, line in enumerate(opt_lines):
        if pat.match(line):
            j = i + 1
            while j < len(opt_lines) and not re.match(r'^\.(It|El|Ss)\b', opt_lines[j]):
                j += 1
            return opt_lines[i:j]
    return None


for o in options:
    entry = option_entry(o["name"])
    if entry is None:
        result(False, "etcd-dr(1) OPTIONS documents --%s" % o["name"], "no '.It Fl -%s' entry" % o["name"])
        continue
    text = "\n".join(entry)
    missing = []
    if o["short"] != "0" and not entry[0].startswith(".It Fl %s , " % o["short"].strip("'")):
        missing.append("short flag -%s" % o["short"].strip("'"))
    env = "ETCD_DR_" + o["name"].upper().replace("-", "_")
    if not re.search(r'\bEv ' + env + r'\b', text):
        missing.append(env)
    if o["env"] and not re.search(r'\bEv ' + re.escape(o["env"]) + r'\b', text):
        missing.append(o["env"])
    if o["section"] and ".Li [%s] %s" % (o["section"], o["key"]) not in text:
        missing.append("[%s] %s" % (o["section"], o["key"]))
    if o["default"] is not None and not re.search(r'(^|[ \n])' + re.escape(o["default"]) + r'( ?[.,]|$|\n)', text):
        missing.append("default %s" % o["default"])
    result(not missing, "etcd-dr(1) documents --%s with its env, config key and default" % o["name"],
           "missing: " + ", ".join(missing))

# --- etcd-dr.conf(5): every [section] key ----------------------------------
conf_blocks, cur = {}, None
for line in man5.splitlines():
    if line.startswith(".Ss ") or line.startswith(".Sh "):
        mm = re.match(r'^\.Ss \[([a-z]+)\]$', line)
        cur = mm.group(1) if mm else None
        if cur:
            conf_blocks[cur] = []
    elif cur:
        conf_blocks[cur].append(line)
for o in options:
    if not o["section"]:
        continue
    block = conf_blocks.get(o["section"])
    good = block is not None and any(l.startswith(".It Cm %s" % o["key"]) and
                                     re.match(r'^\.It Cm ' + re.escape(o["key"]) + r'( |$)', l)
                                     for l in block)
    result(good, "etcd-dr.conf(5) documents %s in [%s]" % (o["key"], o["section"]),
           "no '.It Cm %s' under '.Ss [%s]'" % (o["key"], o["section"]))
sched = conf_blocks.get("schedule", [])
for job in ("backup", "verify", "prune"):
    result(any(re.match(r'^\.It Cm %s Li = Ar cron' % job, l) for l in sched),
           "etcd-dr.conf(5) documents the [schedule] job %s" % job)
# the sections the config reader accepts (src/common/opts.c) are all documented
opts_c = open(os.path.join(srcdir, "src/common/opts.c")).read()
known = set(re.findall(r'strcmp\(section, "([a-z]+)"\)', opts_c))
result(known and known <= set(conf_blocks), "etcd-dr.conf(5) has every section the reader accepts",
       "missing: %s" % sorted(known - set(conf_blocks)))

# --- sections and ENVIRONMENT ---------------------------------------------------
want = ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENVIRONMENT", "FILES",
        "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
result([n for n in want if n in s1] == want, "etcd-dr(1) has the sections " + ", ".join(want),
       "have: %s" % list(s1))
env_text = "\n".join(s1.get("ENVIRONMENT", []))
code = ""
for root, _, files in os.walk(os.path.join(srcdir, "src")):
    for f in files:
        if f.endswith(".c"):
            code += open(os.path.join(root, f), errors="replace").read()
# variables the code reads (getenv, s3.c's env/home_path) or sets for hooks
names = set(re.findall(r'(?:getenv|[^a-z_]env|home_path|setenv)\("([A-Z][A-Z0-9_]*)"', code))
names -= {"TZ", "HOME"}
names = {n for n in names if not n.startswith("EDR_")}  # test-only knobs
for n in sorted(names):
    result(re.search(r'\bEv (?:[A-Z0-9_]+ , )*%s\b' % n, env_text) is not None,
           "etcd-dr(1) ENVIRONMENT names %s" % n)

# --- EXIT STATUS ------------------------------------------------------------
err_h = open(os.path.join(srcdir, "src/common/err.h")).read()
codes = re.findall(r'X\((EDR_\w+),\s*(\d+),\s*"', err_h)
result(len(codes) >= 10, "parsed EDR_ERROR_TABLE (%d codes)" % len(codes))
exit_text = "\n".join(s1.get("EXIT STATUS", []))
for name, code in codes:
    good = re.search(r'^\.It %s\n\.Dv %s :' % (code, name), exit_text, re.M) is not None
    result(good, "EXIT STATUS documents %s (%s)" % (code, name), "no '.It %s' + '.Dv %s :'" % (code, name))

# --- COMMANDS and their options ---------------------------------------------
commands = open(cmdfile).read().split()
cmd_lines = s1.get("COMMANDS", [])
blocks, cur, depth = {}, None, 0
for line in cmd_lines:
    if line.startswith(".Bl"):
        depth += 1
    elif line.startswith(".El"):
        depth -= 1
    mm = re.match(r'^\.It Nm Cm ([a-z]+)', line)
    if mm and depth == 1:
        cur = mm.group(1)
        blocks.setdefault(cur, [])
    elif cur:
        blocks[cur].append(line)
for c in commands:
    result(c in blocks, "etcd-dr(1) COMMANDS documents '%s'" % c)
extra = sorted(set(blocks) - set(commands))
result(not extra, "etcd-dr(1) documents no command main.c lacks", "extra: %s" % extra)


def options_paragraph(lines):
    """Option names on the .Fl lines of the 'Options:' paragraph."""
    names, on = set(), False
    for line in lines:
        if line.startswith("Options:"):
            on = True
        elif on and (line.startswith(".Pp") or line.startswith(".It") or line.startswith(".El")):
            break
        if on and line.startswith(".Fl"):
            names.update(re.findall(r'(?:^\.Fl |\s)-([a-z0-9][a-z0-9-]*)', line))
    return names


all_names = {o["name"] for o in options}
for c in commands:
    helped = set()
    for line in open(os.path.join(helpdir, c)):
        mm = re.match(r'^\s+--([a-z0-9-]+)', line)
        if mm:
            helped.add(mm.group(1))
    if helped == all_names:  # takes every option (config check)
        result(any(l.startswith("Options: every option") for l in blocks.get(c, [])),
               "'%s': etcd-dr(1) says it takes every option" % c)
        continue
    documented = options_paragraph(blocks.get(c, [])) - GLOBAL
    unknown = documented - all_names
    result(not unknown, "'%s': the options listed in etcd-dr(1) exist" % c, "unknown: %s" % sorted(unknown))
    missing = helped - documented
    result(not missing, "'%s': every option of 'etcd-dr help %s' is listed in etcd-dr(1)" % (c, c),
           "missing: %s" % sorted(missing))
    if helped:  # implemented: the page must not promise more than the command takes
        extra = documented - helped
        result(not extra, "'%s': etcd-dr(1) lists no option the command does not take" % c,
               "not taken: %s" % sorted(extra))
PY
[ -s "$T/results" ] || not_ok "the documentation checker ran"
while IFS='|' read -r status desc detail; do
    if [ "$status" = ok ]; then ok "$desc"; else
        not_ok "$desc"
        diag "  $detail"
    fi
done <"$T/results"

# The example of etcd-dr.conf(5) is accepted as written: the reader rejects any
# unknown section or key for every command, so a dry-run prune parses all of it.
python3 - "$MAN/etcd-dr.conf.5" >"$T/example.conf" <<'PY'
import sys
text = open(sys.argv[1]).read()
ex = text.split(".Sh EXAMPLES", 1)[1].split(".Bd -literal -offset indent\n", 1)[1].split("\n.Ed", 1)[0]
print(ex)
PY
want='[etcd]
endpoints = https://10.0.0.1:2379,https://10.0.0.2:2379
[repo]
path = /var/backups/etcd
cluster = prod
recipient = /etc/etcd-dr/backup.pub
[schedule]
backup = */30 * * * *
[retention]
keep-last = 3
[metrics]
file = /var/lib/node_exporter/textfile/etcd_dr.prom'
check "etcd-dr.conf(5) shows the reference example config verbatim" test "$(cat "$T/example.conf")" = "$want"
mkdir -p "$T/repo/prod"
check "the example config is accepted (prune --dry-run with it)" \
    "$EDR" prune --config "$T/example.conf" --repo "$T/repo" --dry-run
check "etcd-dr config check accepts the example config" "$EDR" config check --config "$T/example.conf"

done_testing
