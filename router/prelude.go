package router

import (
	"strings"
)

// Prelude returns the bash text to source once in every bash that runs
// planned lines, before them.
//
// A target word is no function: bash shows a job by the text of the
// command it forked, and a function that runs the stand-in would show the
// function's body (`[1]+ Stopped "$self" segment ...`) where the user
// typed `@linux sleep 100`. An @word that names no command reaches
// command_not_found_handle instead, in the child bash forked for it, so
// the job keeps the user's text; the handler execs the stand-in there
// (when bash did not fork, the command was the shell's last one, and
// exec ends it as it would have ended). Any other word gets bash's own
// message, made as bash makes it (the name is the file being run, or $0,
// with "line N"; just "bash" when interactive), or the handler that
// startup files defined before.
func (p *Planner) Prelude() string {
	return strings.ReplaceAll(prelude, "SELF", p.selfQuoted())
}

func (p *Planner) selfQuoted() string {
	r := &planRun{p: p}
	return r.self()
}

const prelude = `if declare -F command_not_found_handle >/dev/null; then
  __spirit_f=$(declare -f command_not_found_handle)
  eval "__spirit_cnf_user${__spirit_f#command_not_found_handle}"
  unset __spirit_f
fi
command_not_found_handle() {
  case $1 in
  @?*) exec SELF segment -- "$@" ;;
  esac
  if declare -F __spirit_cnf_user >/dev/null; then
    __spirit_cnf_user "$@"
    return
  fi
  if [[ $- == *i* ]]; then
    printf 'bash: %s: command not found\n' "$1" >&2
  else
    printf '%s: line %s: %s: command not found\n' "${BASH_SOURCE[1]:-$0}" "${BASH_LINENO[0]}" "$1" >&2
  fi
  return 127
}
__spirit_stored() {
  local s=$? failed=
  while (($# >= 2)); do
    eval "exec $1>&-"
    wait "$2" || failed=1
    shift 2
  done
  if [[ $failed ]]; then return 1; fi
  return $s
}
`
