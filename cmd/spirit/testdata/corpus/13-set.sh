# Host lines: set. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
set -e; false; echo not reached
#---
set -e; false || true; echo reached
#---
set -e; if false; then :; fi; echo reached
#---
set -e; f() { false; echo in f; }; f; echo after
#---
set -e; f() { false; echo in f; }; f || echo failed
#---
set -e; x=$(false); echo reached
#---
set -e; ! true; echo reached
#---
set -e; false | true; echo reached
#---
set -eo pipefail; false | true; echo not reached
#---
set -o pipefail; false | true; echo $?
#---
set -o pipefail; true | false | true; echo $?
#---
set -u; echo $nosuch; echo after
#---
set -u; echo ${nosuch:-ok}
#---
set -u; a=(); echo "${a[@]}"; echo ok
#---
set -u; echo "$1"
#---
set -x; echo traced
#---
set -x; x=1; echo $x
#---
set -v; echo verbose
#---
set -f; echo *
#---
set -n; echo never
#---
set -C; echo a > f; echo b > f; echo $?; cat f
#---
set -C; echo a > f; echo b >| f; cat f
#---
set -o | grep -c .
#---
set -o noglob; echo *; set +o noglob
#---
set +o | head -3
#---
set -- a b c; echo $2; set --; echo $#
#---
set -a; x=1; bash -c "echo \$x"
#---
set -b; echo b
#---
set -e; (false); echo not reached
#---
set -e; { false; }; echo not reached
#---
set -e; false && true; echo reached
#---
set -e; while false; do :; done; echo reached
#---
set -T; echo T
#---
shopt -s inherit_errexit; set -e; x=$(false; echo still); echo "[$x]"
#---
set -o errtrace; echo $-
#---
echo $-
#---
set -h; echo $-
#---
set +h; echo $-
#---
set -e; trap "echo trapped" ERR; false
#---
set -k; echo a x=1
#---
set -P; cd /usr/bin/..; pwd
#---
set -o emacs; echo $?
#---
set -o posix; echo ${SHELLOPTS}
#---
shopt -p | head -3
#---
shopt -q extglob; echo $?
#---
shopt -s nosuchopt; echo $?
#---
set -o nosuchopt; echo $?
#---
set -Z; echo $?
