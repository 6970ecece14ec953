#!/bin/bash
# The shell completions (completions/): bash's function driven the way bash
# drives it (COMP_WORDS/COMP_CWORD in, COMPREPLY out) for command names, a
# command's options, option values and backup ids of a real repository
# (two backups of a real etcd); each answer is checked against what the
# binary says (`etcd-dr --help`, `etcd-dr help CMD`, `etcd-dr list --json`).
# zsh's: syntax (zsh -n) and its option specs against `etcd-dr help CMD`.
BASE_PORT=25900
. "$(dirname "$0")/lib.sh"
require_etcd

BASH_COMP=$SRCDIR/completions/etcd-dr.bash
ZSH_COMP=$SRCDIR/completions/_etcd-dr
[ -f "$BASH_COMP" ] || bail "no $BASH_COMP"
# shellcheck source=/dev/null
. "$BASH_COMP"

# comp WORD...: complete the last word of `WORD...` (the first is the
# binary); COMPREPLY sorted, one a line, in $T/reply
comp() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _etcd_dr
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort >"$T/reply"
}
# same "description" EXPECTED_FILE: the reply equals the sorted expectation
same() {
    if sort "$2" | cmp -s - "$T/reply"; then ok "$1"; else
        not_ok "$1"
        diff <(sort "$2") "$T/reply" | sed 's/^/#   /' | head -20
    fi
}

cd "$T" || bail "no temp dir"

# command names: those of --help (and help, --help, --version)
"$EDR" --help | awk '/^commands:/ { c = 1; next } c && /^  [a-z]/ { print $1 }' >"$T/commands"
[ "$(wc -l <"$T/commands")" -ge 10 ] || bail "etcd-dr --help lists fewer than 10 commands"
{ cat "$T/commands"; printf '%s\n' help --help --version; } >"$T/want"
comp "$EDR" ""
same "commands: every command of etcd-dr --help" "$T/want"
grep '^i' "$T/commands" >"$T/want"
comp "$EDR" i
same "commands: those starting with 'i'" "$T/want"
comp "$EDR" help ver
echo verify >"$T/want"
same "help COMMAND: command names" "$T/want"

# a command's options: those of `etcd-dr help CMD` plus the global ones
for cmd in list restore backup; do
    { "$EDR" help "$cmd" | awk '/^  --[a-z]/ { print $1 }'
      printf '%s\n' --config --log-level --log-format --quiet --no-progress --help; } | sort -u >"$T/want"
    comp "$EDR" "$cmd" --
    same "options of $cmd: those of 'etcd-dr help $cmd' and the global ones" "$T/want"
done
comp "$EDR" restore --to-
printf '%s\n' --to-revision --to-time >"$T/want"
same "options of restore starting with --to-" "$T/want"
comp "$EDR" keygen --rep
: >"$T/want"
same "an option another command has but keygen has not: nothing" "$T/want"

# option values: the finite sets, each value named in the option's help text
# (a value added to or dropped from the code shows here)
value_check() { # value_check CMD OPTION WANTED...
    local cmd=$1 opt=$2 line v bad=""
    shift 2
    printf '%s\n' "$@" >"$T/want"
    comp "$EDR" "$cmd" "$opt" ""
    same "values of $cmd $opt" "$T/want"
    line=$("$EDR" help "$cmd" | grep -- "^  $opt ")
    for v in "$@"; do
        case $line in *"$v"*) ;; *) bad="$bad $v" ;; esac
    done
    if [ "$opt" = --log-level ]; then return 0; fi # a global option: not in help CMD
    if [ -z "$bad" ]; then ok "$cmd $opt: every value is named by 'etcd-dr help $cmd'"; else
        not_ok "$cmd $opt: not in the help text:$bad"
        echo "#   $line"
    fi
}
value_check backup --endpoint-policy follower leader first
value_check import --from etcdctl k3s rke2 gardener
value_check verify --level stored content drill
value_check get --output value json raw
value_check backup --log-level error warn info debug
comp "$EDR" get -o j
echo json >"$T/want"
same "get -o j: json" "$T/want"
comp "$EDR" import --from k
echo k3s >"$T/want"
same "import --from k: k3s" "$T/want"
# file and directory values
mkdir -p "$T/dirs/sub" && : >"$T/dirs/file.pub"
comp "$EDR" backup --recipient "$T/dirs/f"
echo "$T/dirs/file.pub" >"$T/want"
same "backup --recipient: file names" "$T/want"
comp "$EDR" restore --data-dir "$T/dirs/"
echo "$T/dirs/sub" >"$T/want"
same "restore --data-dir: directories only" "$T/want"
comp "$EDR" --version ""
echo --json >"$T/want"
same "--version: --json" "$T/want"

# backup ids of a real repository: two backups of a real etcd
EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
ctl put /a 1 >/dev/null || bail "etcdctl put failed"
"$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster c1 --no-encrypt --no-progress >/dev/null 2>&1 ||
    bail "first backup failed"
ctl put /a 2 >/dev/null
sleep 1.1 # distinct backup ids (they carry the time)
"$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster c1 --no-encrypt --no-progress >/dev/null 2>&1 ||
    bail "second backup failed"
"$EDR" list --repo "$T/repo" --cluster c1 --json |
    python3 -c 'import json,sys; print("\n".join(b["id"] for b in json.load(sys.stdin)))' >"$T/ids"
check "the repository holds two backups" test "$(wc -l <"$T/ids")" -eq 2
comp "$EDR" inspect --repo "$T/repo" --cluster c1 ""
# inspect also takes a snapshot file: the files of the current directory come too
{ cat "$T/ids"; ls -A "$T"; } >"$T/want"
same "inspect --repo R --cluster C: the backup ids (and files)" "$T/want"
comp "$EDR" export --repo "$T/repo" --cluster c1 ""
same "export --repo R --cluster C: the backup ids" "$T/ids"
comp "$EDR" diff "--repo=$T/repo" --cluster=c1 "$(head -1 "$T/ids")" ""
same "diff --repo=R --cluster=C A: the backup ids" "$T/ids"
comp "$EDR" export --repo "$T/repo" ""
: >"$T/want"
same "export --repo R without --cluster: cluster 'default' has no backups" "$T/want"
comp "$EDR" export ""
same "export without --repo: no ids (nothing to list)" "$T/want"
printf '[repo]\npath = %s\ncluster = c1\n' "$T/repo" >"$T/edr.conf"
comp "$EDR" export --config "$T/edr.conf" ""
same "export --config FILE: the ids of the config's repository" "$T/ids"

# zsh: syntax, and the specs it hands _arguments match `etcd-dr help CMD`
if ! command -v zsh >/dev/null; then
    not_ok "zsh is not installed (scripts/install-deps.sh installs it)"
else
    check "zsh -n completions/_etcd-dr" zsh -n "$ZSH_COMP"
    for cmd in restore get; do
        zsh -f -c 'source "$1"; _call_program() { shift; eval "$@"; }; _etcd-dr_specs "$2" "$3"' \
            zsh "$ZSH_COMP" "$EDR" "$cmd" >"$T/zspecs" 2>"$T/zerr"
        sed -n 's/^\(--[a-z0-9-]*\)\[.*/\1/p' "$T/zspecs" | sort -u >"$T/reply"
        { "$EDR" help "$cmd" | awk '/^  --[a-z]/ { print $1 }'
          printf '%s\n' --config --log-level --log-format --quiet --no-progress; } | sort -u >"$T/want"
        same "zsh: the options of $cmd are those of 'etcd-dr help $cmd'" "$T/want"
        if [ -s "$T/zerr" ]; then not_ok "zsh: no errors"; sed 's/^/#   /' "$T/zerr"; fi
    done
    check "zsh: get --output offers value, json, raw" grep -qx -- '--output\[.*\]:file:(value json raw)' "$T/zspecs"
    check "zsh: get --identity completes files" grep -qx -- '--identity\[.*\]:file:_files' "$T/zspecs"
    check "zsh: --s3-path-style takes no value" grep -qx -- '--s3-path-style\[path-style S3 addressing\]' "$T/zspecs"
    check "zsh: get -o is --output" grep -qx -- '-o\[.*\]:file:(value json raw)' "$T/zspecs"
    zsh -f -c 'source "$1"; _call_program() { shift; eval "$@"; }; _etcd-dr_commands "$2"' \
        zsh "$ZSH_COMP" "$EDR" | cut -d: -f1 >"$T/reply"
    same "zsh: the commands of etcd-dr --help" "$T/commands"

    # the real thing: an interactive zsh on a pseudo-terminal (zpty) with
    # compinit and _etcd-dr on $fpath; type a line, TAB, read the screen.
    # compinit -D alone: a later -d FILE would turn the dump back on, and
    # compdump renames its file over FILE (over /dev/null, once)
    cat >"$T/ztype.zsh" <<'ZSH'
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PS1='> '; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "unsetopt listambiguous"
zpty -w z "zstyle ':completion:*' list-prompt ''; print -r -- READY"
zpty -r -m z x '*READY*READY*'
zpty -n -w z "$2"$'\t'
sleep 1.5
while zpty -r -t z x; do print -rn -- "$x"; done
zpty -d z
ZSH
    mkdir -p "$T/bin" "$T/zcomp"
    ln -sf "$EDR" "$T/bin/etcd-dr"
    cp "$ZSH_COMP" "$T/zcomp/"
    # ztype LINE: the screen after LINE<TAB>, without escapes and CRs, in $T/screen
    ztype() {
        PATH=$T/bin:$PATH timeout 30 zsh -f "$T/ztype.zsh" "$T/zcomp" "$1" 2>&1 |
            sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\r//g' >"$T/screen"
    }
    zsee() { # zsee "description" LINE FIXED_STRING...: each string is on the screen
        local d=$1 l=$2 s miss=""
        shift 2
        ztype "$l"
        for s in "$@"; do grep -qF -- "$s" "$T/screen" || miss="$miss '$s'"; done
        if [ -z "$miss" ]; then ok "zsh: $d"; else
            not_ok "zsh: $d: not on the screen:$miss"
            tail -5 "$T/screen" | sed 's/^/#   /'
        fi
    }
    zsee "a command name" "etcd-dr insp" "etcd-dr inspect "
    zsee "an option" "etcd-dr backup --endpoint-p" "etcd-dr backup --endpoint-policy "
    zsee "an option value" "etcd-dr backup --endpoint-policy le" "--endpoint-policy leader "
    zsee "get -o: an output format" "etcd-dr get -o j" "etcd-dr get -o json "
    zsee "import --from: a tool" "etcd-dr import --from rk" "--from rke2 "
    # two ids with a common prefix: zsh inserts the prefix and lists both
    zsee "the backup ids of the repository" "etcd-dr export --repo $T/repo --cluster c1 " \
        $(cat "$T/ids")
    zsee "no ids for a cluster without backups" "etcd-dr export --repo $T/repo --cluster nope 2" \
        "--cluster nope 2"
    if grep -qF -- "$(head -1 "$T/ids")" "$T/screen"; then
        not_ok "zsh: an id of cluster c1 offered for cluster nope"
    fi
fi

done_testing
