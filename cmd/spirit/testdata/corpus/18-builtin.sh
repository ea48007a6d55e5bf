# Host lines: builtin. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
type echo
#---
type ls | grep -c ls
#---
type -t echo if ls nosuch
#---
command -v echo
#---
command -v nosuch; echo $?
#---
command echo via command
#---
builtin echo via builtin
#---
builtin nosuch; echo $?
#---
enable -n echo; echo x; enable echo
#---
umask 022; umask
#---
umask 077; umask -S
#---
umask 027; touch newf; stat -c %a newf
#---
ulimit -c 0; ulimit -c
#---
ulimit -n 256; ulimit -n
#---
ulimit -f
#---
cd /tmp; pwd
#---
cd /nonexistent; echo $?
#---
cd; [ "$PWD" = "$HOME" ]; echo $?
#---
pushd /usr >/dev/null; popd >/dev/null; echo $?
#---
pushd /tmp > /dev/null; dirs | wc -w
#---
cd /usr; cd -
#---
cd /usr/bin; cd ..; pwd
#---
mkdir sub; cd sub; echo ${PWD##*/}
#---
set -- a b c; shift 2; echo $1
#---
set -- a; shift 3; echo $?
#---
getopts ab: o -a; echo $o $OPTIND
#---
set -- -a -b val rest; while getopts ab: o; do echo "$o ${OPTARG:-}"; done; shift $((OPTIND-1)); echo "$@"
#---
set -- -x; getopts ab o; echo "$o $?"
#---
getopts; echo $?
#---
eval "echo evaluated"
#---
eval "x=5"; echo $x
#---
eval "echo \$((2+2))"
#---
eval "syntax error ("; echo $?
#---
echo "echo sourced" > s.sh; source s.sh
#---
echo "return 5" > s.sh; . s.sh; echo $?
#---
source nosuch.sh; echo $?
#---
declare -i i="2*3"; echo $i
#---
declare -u u=abc; echo $u
#---
declare -l l=ABC; echo $l
#---
declare -r r=1; r=2; echo $?
#---
readonly x=1; unset x; echo $?
#---
declare -x ex=1; bash -c "echo \$ex"
#---
x=1; unset x; echo "[$x]"
#---
declare -p HOME2 2>&1; echo $?
#---
x=1; declare -p x
#---
declare -a arr=(1); declare -p arr
#---
export E1=v; env | grep "^E1="
#---
export -n E1; true
#---
local x; echo $?
#---
hash -r; echo $?
#---
times > /dev/null; echo $?
#---
help echo | head -1
#---
true; echo $?
#---
false; echo $?
#---
: args ignored; echo $?
#---
exit
#---
exit 255
#---
exit 256
#---
exit -1
#---
exit abc
#---
return 3; echo after
#---
echo $BASH_VERSION | cut -d. -f1
#---
echo ${BASH_VERSINFO[0]}
#---
echo $SHLVL
#---
echo ${#BASH_VERSION}
#---
echo $BASH
#---
echo $OSTYPE
#---
echo $HOSTTYPE
#---
echo $PPID | grep -c "^[0-9]*$"
#---
echo $LINENO
#---
echo a
echo $LINENO
#---
echo $((SECONDS < 5))
#---
true | false | true; echo ${PIPESTATUS[@]}
#---
false | true; echo "${PIPESTATUS[0]} ${PIPESTATUS[1]}"
#---
! true; echo $?
#---
! false; echo $?
#---
echo $_
#---
echo last; echo $_
#---
PATH=$PATH:~/bin; echo ${PATH##*:} | grep -c bin
#---
PATH=/nonexistent; ls; echo $?
#---
PATH= ls; echo $?
#---
x=~; [ "$x" = "$HOME" ]; echo $?
#---
echo ~nosuchuser
#---
echo ~root
#---
echo "~"
#---
IFS=:; x="a:b:c"; set -- $x; echo $#
#---
IFS=; x="a b"; set -- $x; echo $#
#---
unset IFS; x="a  b"; set -- $x; echo $#
#---
IFS=" ,"; x="a, b,c"; set -- $x; echo $# "$2"
#---
x="a	b"; echo "$x"
#---
x='a\nb'; echo $x
#---
echo $((0)) $? ${#}
#---
echo "$@"
#---
echo "$#"
#---
HOME=/custom; echo ~
#---
CDPATH=/; cd usr; pwd
#---
OPTERR=0; getopts a o -z; echo "$o"
#---
x=1 bash -c "echo \$x"
#---
x=1 true; echo "[$x]"
#---
x=1 :; echo "[$x]"
#---
x=1 export y=2; echo "[$x] $y"
#---
TMOUT=5; echo $TMOUT
#---
RANDOM=1; a=$RANDOM; RANDOM=1; b=$RANDOM; [ $a = $b ]; echo $?
#---
test -t 1; echo $?
#---
tty -s; echo $?
#---
echo ${BASH_ARGV0:-}
#---
BASH_ARGV0=renamed; echo $0
#---
printf "%s\n" "$BASHOPTS" | tr : "\n" | head -3
#---
echo $UID $EUID | wc -w
#---
echo $HISTFILE
#---
history | wc -l
#---
fc -l 2>&1 | head -1; true
#---
compgen -b | head -3
#---
compgen -v HOME
#---
complete -p 2>&1 | wc -l
#---
caller; echo $?
#---
coproc cat; echo hi >&"${COPROC[1]}"; exec {COPROC[1]}>&-; read x <&"${COPROC[0]}"; echo $x
#---
suspend; echo $?
#---
logout; echo $?
#---
shopt -s nullglob failglob; echo x
#---
echo $MAILCHECK
#---
declare -f nosuch; echo $?
#---
type -a true | head -1
#---
which ls > /dev/null; echo $?
#---
command -V echo
#---
exec echo replaced; echo never
#---
exec nosuch; echo $?
#---
exec; echo still
#---
(exec true); echo $?
#---
printf "%s" "$(exec echo x)"; echo
#---
echo $((10#${x:-5}))
