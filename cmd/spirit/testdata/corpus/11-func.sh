# Host lines: func. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
f() { echo "in f: $1"; }; f arg
#---
f() { return 3; }; f; echo $?
#---
f() { local x=inner; echo $x; }; x=outer; f; echo $x
#---
f() { x=changed; }; x=orig; f; echo $x
#---
function g { echo g; }; g
#---
function h() { echo h; }; h
#---
f() { echo $#; }; f a "b c" d
#---
f() { echo "$FUNCNAME"; }; f
#---
f() { g; }; g() { echo "${FUNCNAME[@]}"; }; f
#---
fact() { (( $1 <= 1 )) && { echo 1; return; }; echo $(( $1 * $(fact $(( $1 - 1 ))) )); }; fact 5
#---
f() { shift; echo "$@"; }; f a b c
#---
f() { echo "$0"; }; f
#---
f() ( x=sub; echo $x ); x=main; f; echo $x
#---
f() { return; }; false; f; echo $?
#---
f() { false; return; }; f; echo $?
#---
f() { local -i n=3+4; echo $n; }; f
#---
f() { declare g=1; }; f; echo "[$g]"
#---
f() { declare -g g=1; }; f; echo "[$g]"
#---
f() { echo a; }; declare -f f
#---
f() { echo a; }; type f
#---
f() { :; }; unset -f f; f; echo $?
#---
f() { echo "[$*]"; }; IFS=,; f a b
#---
f() { local IFS=:; echo "$*"; }; f a b; echo "$*"
#---
f() { echo ${1:-default}; }; f; f given
#---
f() { return 300; }; f; echo $?
#---
f() { exit 4; }; (f); echo $?
#---
f() { echo one; }; f() { echo two; }; f
#---
f() { local a; a=$(false); echo $?; }; f
#---
f() { local a=$(false); echo $?; }; f
#---
alias ll="echo aliased"; ll
#---
shopt -s expand_aliases; alias ll="echo aliased"
ll
#---
f() { caller; }; f
#---
f() { echo "${BASH_LINENO[0]}"; }
f
#---
f() { trap "echo ret" RETURN; }; f; echo after
#---
recurse() { (( $1 > 0 )) && recurse $(( $1 - 1 )); echo $1; }; recurse 3
#---
f() { echo "$@"; }; f "" ""; f "$@"
#---
f(){ echo compact; }; f
#---
f() { :; }; f | cat; echo ${PIPESTATUS[@]}
#---
declare -F f; echo $?
#---
f() { echo x; } >&2; f 2>/dev/null; echo done
#---
f() { cat; }; echo piped | f
#---
f() { local -n r=$1; r=set; }; f v; echo $v
#---
export -f; true
#---
f() { echo exported; }; export -f f; bash -c f
