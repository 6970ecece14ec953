#!/bin/bash
# The files in examples/ work as shipped: the systemd units pass
# `systemd-analyze verify` and carry the hardening they promise, the
# Kubernetes manifest parses and inlines no secret, the config file passes
# `etcd-dr config check`, the crontab lines are 5 cron fields + a command
# whose cron fields etcd-dr's own parser accepts, and every etcd-dr command
# line in them uses only options its command takes. No etcd needed.
BASE_PORT=23910
. "$(dirname "$0")/lib.sh"

EX=$SRCDIR/examples
[ -x "$EDR" ] || bail "no etcd-dr binary at $EDR"

# cmdline_ok "etcd-dr ARGS...": the command exists and takes every --option
# given (global options are always taken). Words are split like the shell does
# for simple lines; quotes are not expected in the examples.
cmdline_ok() {
    python3 - "$EDR" "$@" <<'PY'
import re, subprocess, sys
edr, words = sys.argv[1], sys.argv[2:]
if words and words[0].endswith("etcd-dr"):
    words = words[1:]
if not words:
    sys.exit("no command")
cmd = words[0]
h = subprocess.run([edr, "help", cmd], capture_output=True, text=True)
if h.returncode != 0:
    sys.exit("unknown command %r" % cmd)
taken = set(re.findall(r'^\s+--([a-z0-9-]+)', h.stdout, re.M))
taken |= {"config", "log-level", "log-format", "quiet", "no-progress", "help"}
bad = [w for w in words[1:] if w.startswith("--") and w[2:].split("=")[0] not in taken]
if bad:
    sys.exit("'%s' does not take %s" % (cmd, ", ".join(bad)))
PY
}

# --- systemd units ----------------------------------------------------------
UNITS="etcd-dr-backup.service etcd-dr-backup.timer etcd-dr-schedule.service"
for u in $UNITS; do
    [ -f "$EX/systemd/$u" ] || not_ok "examples/systemd/$u exists"
done
if command -v systemd-analyze >/dev/null; then
    # The units run /usr/bin/etcd-dr, which is not installed here, and
    # `systemd-analyze verify` fails on an ExecStart binary that does not
    # exist. Verify copies whose ExecStart points at /bin/true instead (same
    # arguments); everything else is checked as shipped. --man=no: the man
    # pages named in Documentation= are not installed either. verify exits 0
    # even for unknown keys or bad values, so any output counts as a failure.
    mkdir -p "$T/units"
    for u in $UNITS; do
        sed 's|^ExecStart=/usr/bin/etcd-dr |ExecStart=/bin/true |' "$EX/systemd/$u" >"$T/units/$u"
    done
    (cd "$T/units" && systemd-analyze verify --man=no ./etcd-dr-backup.service \
        ./etcd-dr-backup.timer ./etcd-dr-schedule.service) >"$T/sdv.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$T/sdv.out" ]; then
        ok "systemd-analyze verify: the units are clean"
    else
        not_ok "systemd-analyze verify (exit $rc)"
        sed 's/^/#   /' "$T/sdv.out" | head -20
    fi
else
    ok "systemd-analyze verify # SKIP systemd-analyze not installed"
fi

has() { grep -Eq "^$2\$" "$EX/systemd/$1"; }
for s in etcd-dr-backup.service etcd-dr-schedule.service; do
    miss=""
    for d in 'ProtectSystem=strict' 'ReadWritePaths=.+' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
        'CapabilityBoundingSet=' 'ProtectHome=yes' 'RestrictAddressFamilies=.+' \
        'SystemCallFilter=@system-service' '(User=[a-z_-]+|DynamicUser=yes)'; do
        has "$s" "$d" || miss="$miss $d"
    done
    if [ -z "$miss" ]; then ok "$s is hardened"; else not_ok "$s lacks:$miss"; fi
    line=$(sed -n 's|^ExecStart=/usr/bin/etcd-dr ||p' "$EX/systemd/$s")
    # shellcheck disable=SC2086
    check "$s: the etcd-dr command line uses only options its command takes" cmdline_ok $line
done
check "etcd-dr-backup.service is a oneshot running backup --config" \
    sh -c "grep -q '^Type=oneshot$' '$EX/systemd/etcd-dr-backup.service' &&
           grep -Eq '^ExecStart=/usr/bin/etcd-dr backup .*--config ' '$EX/systemd/etcd-dr-backup.service'"
check "etcd-dr-schedule.service: Type=simple, reload by SIGHUP, restart on failure" \
    sh -c "grep -q '^Type=simple$' '$EX/systemd/etcd-dr-schedule.service' &&
           grep -Eq '^ExecReload=/bin/kill -HUP \\\$MAINPID$' '$EX/systemd/etcd-dr-schedule.service' &&
           grep -q '^Restart=on-failure$' '$EX/systemd/etcd-dr-schedule.service' &&
           grep -Eq '^ExecStart=/usr/bin/etcd-dr schedule .*--config ' '$EX/systemd/etcd-dr-schedule.service'"
check "the timer starts the backup service and is installable" \
    sh -c "grep -q '^Unit=etcd-dr-backup.service$' '$EX/systemd/etcd-dr-backup.timer' &&
           grep -q '^OnCalendar=' '$EX/systemd/etcd-dr-backup.timer' &&
           grep -q '^WantedBy=timers.target$' '$EX/systemd/etcd-dr-backup.timer'"

# --- Kubernetes -------------------------------------------------------------
python3 - "$EX/kubernetes/cronjob.yaml" "$T/k8s.conf" "$T/k8s.args" >"$T/k8s.results" <<'PY'
import re, sys
import yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
res = []
def r(good, desc, detail=""):
    res.append(("ok|%s" % desc) if good else ("not ok|%s|%s" % (desc, detail)))

kinds = [d.get("kind") for d in docs]
cj = [d for d in docs if d.get("kind") == "CronJob"]
r(len(cj) == 1 and cj[0].get("apiVersion") == "batch/v1", "the manifest parses and has one batch/v1 CronJob",
  "kinds: %s" % kinds)
r("Secret" not in kinds, "the manifest creates no Secret (no secret value inlined)")
if cj:
    spec = cj[0]["spec"]
    r(spec.get("concurrencyPolicy") == "Forbid", "concurrencyPolicy is Forbid")
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    r(psc.get("runAsNonRoot") is True, "the pod runs as non-root")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        r(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False,
          "container %s: read-only root filesystem, no privilege escalation" % c["name"])
        bad = []
        for e in c.get("env", []):
            if "value" in e and re.search(r'SECRET|PASSWORD|TOKEN|KEY', e["name"]):
                bad.append(e["name"])
        r(not bad, "container %s: secret-looking env vars come from Secrets" % c["name"],
          "inline: %s" % bad)
        env = {e["name"]: e for e in c.get("env", [])}
        r(all(env.get(n, {}).get("valueFrom", {}).get("secretKeyRef") for n in
              ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
          "container %s: S3 credentials from a Secret (secretKeyRef)" % c["name"])
        secret_mounts = [m for m in c.get("volumeMounts", []) if "secret" in vols.get(m["name"], {})]
        r(len(secret_mounts) >= 2 and all(m.get("readOnly") is True for m in secret_mounts),
          "container %s: etcd client certs and recipient mounted read-only from Secrets" % c["name"],
          "mounts: %s" % [(m["name"], m.get("readOnly")) for m in secret_mounts])
        open(sys.argv[3], "w").write(" ".join(c.get("args", [])))
for d in docs:
    if d.get("kind") == "ConfigMap":
        for k, v in (d.get("data") or {}).items():
            if k.endswith(".conf"):
                open(sys.argv[2], "w").write(v)
    # nothing that looks like key material anywhere
text = open(sys.argv[1]).read()
r(not re.search(r'-----BEGIN|etcd-dr-secret-key-1|(secret|password)[a-z_]*\s*[:=]\s*["\']?[A-Za-z0-9/+]{12,}',
                 text, re.I),
  "no key material or secret in the manifest text")
print("\n".join(res))
PY
[ -s "$T/k8s.results" ] || not_ok "the Kubernetes manifest parses (python3 yaml)"
while IFS='|' read -r status desc detail; do
    if [ "$status" = ok ]; then ok "kubernetes: $desc"; else not_ok "kubernetes: $desc"; diag "  $detail"; fi
done <"$T/k8s.results"
if [ -s "$T/k8s.args" ]; then
    # shellcheck disable=SC2046
    check "kubernetes: the container's etcd-dr arguments are valid" cmdline_ok $(cat "$T/k8s.args")
fi

# --- config check -----------------------------------------------------------
# config_check DESC FILE: ok when `etcd-dr config check` accepts FILE
config_check() { check "$1" "$EDR" config check --config "$2"; }
config_check "etcd-dr config check accepts examples/etcd-dr.conf" "$EX/etcd-dr.conf"
[ -s "$T/k8s.conf" ] && config_check "etcd-dr config check accepts the Kubernetes ConfigMap's config" "$T/k8s.conf"
sections=$(grep -Eo '^\[[a-z]+\]' "$EX/etcd-dr.conf" | tr -d '[]' | sort | tr '\n' ' ')
want=$(grep -o 'strcmp(section, "[a-z]*")' "$SRCDIR/src/common/opts.c" | sed 's/.*"\(.*\)")/\1/' | sort -u | tr '\n' ' ')
check "examples/etcd-dr.conf has every section ($want)" test "$sections" = "$want"

# --- crontab ----------------------------------------------------------------
n=0
while IFS= read -r line; do
    case $line in '' | '#'*) continue ;; esac
    if printf '%s\n' "$line" | grep -Eq '^[A-Za-z_][A-Za-z0-9_]*='; then continue; fi # variables
    n=$((n + 1))
    # shellcheck disable=SC2086
    set -f; set -- $line; set +f
    if [ $# -lt 6 ]; then not_ok "crontab line $n has 5 fields and a command: $line"; continue; fi
    fields="$1 $2 $3 $4 $5"
    shift 5
    if printf '%s\n' "$fields" | grep -Eq '^([0-9*/,a-zA-Z-]+ ){4}[0-9*/,a-zA-Z-]+$' && [ "$(basename "$1")" = etcd-dr ]; then
        ok "crontab line $n: 5 cron fields '$fields' + an etcd-dr command"
    else
        not_ok "crontab line $n: 5 cron fields + command: $line"
    fi
    check "crontab line $n: the etcd-dr command line uses only options its command takes" cmdline_ok "$@"
    # etcd-dr's own cron parser must accept the fields too
    printf '[repo]\npath = %s\nrecipient = %s\n[schedule]\nbackup = %s\n' "$T/r" "$T/none.pub" "$fields" >"$T/cron.conf"
    config_check "crontab line $n: etcd-dr's cron parser accepts '$fields'" "$T/cron.conf"
done <"$EX/crontab"
check "the crontab has lines" test "$n" -gt 0
check "the crontab runs 'etcd-dr backup --config ... --prune'" \
    grep -Eq '^[^#]*etcd-dr backup --config [^ ]+ .*--prune' "$EX/crontab"

done_testing
