# bash completion for etcd-dr(1)                          -*- shell-script -*-
#
# The commands and each command's options are read from the binary itself
# (`etcd-dr --help`, `etcd-dr help CMD`), so they always match the option
# table of the etcd-dr being completed. Backup ids come from
# `etcd-dr list --json` when --repo or --config is on the command line.
# Installed as etcd-dr in bash-completion's completions dir (loaded on demand),
# or source this file from ~/.bashrc.

# Commands: the lines under "commands:" of `etcd-dr --help`.
_etcd_dr_commands()
{
    "$1" --help 2>/dev/null | awk '/^commands:/ { c = 1; next } c && /^  [a-z]/ { print $1 } c && /^$/ { exit }'
}

# Options of a command, one "--name METAVAR" (or "--name") a line, from
# `etcd-dr help CMD`, then the options every command takes.
_etcd_dr_options()
{
    "$1" help "$2" 2>/dev/null | awk '/^  --[a-z]/ { if ($2 ~ /^[A-Z]/) print $1, $2; else print $1 }'
    printf '%s\n' '--config FILE' '--log-level LEVEL' '--log-format FORMAT' '--quiet' \
        '--no-progress' '--help'
}

# Backup ids of the repository named on the command line (words 2..cword-1).
_etcd_dr_backup_ids()
{
    local bin=$1 i w have=0
    local -a args=()
    for ((i = 2; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        --repo | --cluster | --config | -c | --s3-endpoint | --s3-region | --s3-cacert | --s3-secret-file)
            if ((i + 1 < COMP_CWORD)); then
                args+=("$w" "${COMP_WORDS[i + 1]}")
                [[ $w == --repo || $w == --config || $w == -c ]] && have=1
            fi
            ((i++))
            ;;
        --repo=* | --cluster=* | --config=* | --s3-endpoint=* | --s3-region=* | --s3-cacert=* | --s3-secret-file=*)
            args+=("$w")
            [[ $w == --repo=* || $w == --config=* ]] && have=1
            ;;
        --s3-path-style) args+=("$w") ;;
        esac
    done
    ((have)) || return 0
    # ~ is not expanded inside COMP_WORDS
    args=("${args[@]/#\~\//$HOME/}")
    # list --json indents the backups' own keys by exactly four spaces
    "$bin" list --json --no-progress "${args[@]}" 2>/dev/null |
        sed -n 's/^    "id": "\([^"]*\)",\{0,1\}$/\1/p'
}

_etcd_dr()
{
    local cur prev bin cmd opts line want name
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    bin=${COMP_WORDS[0]}
    bin=${bin/#\~\//$HOME/}
    COMPREPLY=()

    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "$(_etcd_dr_commands "$bin") help --help --version" -- "$cur"))
        return 0
    fi
    cmd=${COMP_WORDS[1]}
    case $cmd in
    help)
        ((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "$(_etcd_dr_commands "$bin")" -- "$cur"))
        return 0
        ;;
    --version | version)
        ((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "--json" -- "$cur"))
        return 0
        ;;
    esac

    opts=$(_etcd_dr_options "$bin" "$cmd")

    # the value of the option before the cursor
    if [[ $prev == -* && $cur != -* ]]; then
        want=
        case $prev in
        -o) line=$(grep -m1 '^--output ' <<<"$opts") ;;
        -c) line='--config FILE' ;;
        -i) line=$(grep -m1 '^--identity ' <<<"$opts") ;;
        -r) line=$(grep -m1 '^--recipient ' <<<"$opts") ;;
        *) line=$(grep -m1 -- "^$prev\( \|\$\)" <<<"$opts") ;;
        esac
        if [[ $line == *" "* ]]; then
            want=${line#* }
            name=${prev#-}
            case ${name#-} in
            endpoint-policy) COMPREPLY=($(compgen -W "follower leader first" -- "$cur")) ;;
            from) COMPREPLY=($(compgen -W "etcdctl k3s rke2 gardener" -- "$cur")) ;;
            level) COMPREPLY=($(compgen -W "stored content drill" -- "$cur")) ;;
            log-level) COMPREPLY=($(compgen -W "error warn info debug" -- "$cur")) ;;
            log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")) ;;
            bump-revision) COMPREPLY=($(compgen -W "auto" -- "$cur")) ;;
            o | output)
                if [[ $cmd == get ]]; then
                    COMPREPLY=($(compgen -W "value json raw" -- "$cur"))
                else
                    COMPREPLY=($(compgen -f -- "$cur"))
                    compopt -o filenames 2>/dev/null
                fi
                ;;
            *)
                case $want in
                FILE | PATH)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    compopt -o filenames 2>/dev/null
                    ;;
                DIR | DIR\|*)
                    COMPREPLY=($(compgen -d -- "$cur"))
                    compopt -o filenames 2>/dev/null
                    ;;
                esac
                ;;
            esac
            return 0
        fi
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(cut -d' ' -f1 <<<"$opts")" -- "$cur"))
        return 0
    fi

    # positional arguments: backup ids where the command takes a BACKUP,
    # files and directories where it takes one
    case $cmd in
    decrypt | diff | export | get | inspect | ls | restore | verify)
        COMPREPLY=($(compgen -W "$(_etcd_dr_backup_ids "$bin")" -- "$cur"))
        # a snapshot file is accepted too (ls, get, inspect, restore, verify)
        case $cmd in
        get | inspect | ls | restore | verify)
            COMPREPLY+=($(compgen -f -- "$cur"))
            compopt -o filenames 2>/dev/null
            ;;
        esac
        ;;
    import)
        COMPREPLY=($(compgen -f -- "$cur"))
        compopt -o filenames 2>/dev/null
        ;;
    config)
        COMPREPLY=($(compgen -W "check" -- "$cur"))
        ;;
    esac
    return 0
}
complete -F _etcd_dr etcd-dr
