# Host lines: test. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
[ -z "" ]; echo "[ $? ]"
#---
test -z ""; echo "test $?"
#---
[[ -z "" ]]; echo "[[ $? ]]"
#---
[ -z x ]; echo "[ $? ]"
#---
test -z x; echo "test $?"
#---
[[ -z x ]]; echo "[[ $? ]]"
#---
[ -n "" ]; echo "[ $? ]"
#---
test -n ""; echo "test $?"
#---
[[ -n "" ]]; echo "[[ $? ]]"
#---
[ -n x ]; echo "[ $? ]"
#---
test -n x; echo "test $?"
#---
[[ -n x ]]; echo "[[ $? ]]"
#---
[ a = a ]; echo "[ $? ]"
#---
test a = a; echo "test $?"
#---
[[ a = a ]]; echo "[[ $? ]]"
#---
[ a = b ]; echo "[ $? ]"
#---
test a = b; echo "test $?"
#---
[[ a = b ]]; echo "[[ $? ]]"
#---
[ a != b ]; echo "[ $? ]"
#---
test a != b; echo "test $?"
#---
[[ a != b ]]; echo "[[ $? ]]"
#---
[ 1 -eq 1 ]; echo "[ $? ]"
#---
test 1 -eq 1; echo "test $?"
#---
[[ 1 -eq 1 ]]; echo "[[ $? ]]"
#---
[ 1 -ne 1 ]; echo "[ $? ]"
#---
test 1 -ne 1; echo "test $?"
#---
[[ 1 -ne 1 ]]; echo "[[ $? ]]"
#---
[ 1 -lt 2 ]; echo "[ $? ]"
#---
test 1 -lt 2; echo "test $?"
#---
[[ 1 -lt 2 ]]; echo "[[ $? ]]"
#---
[ 2 -le 1 ]; echo "[ $? ]"
#---
test 2 -le 1; echo "test $?"
#---
[[ 2 -le 1 ]]; echo "[[ $? ]]"
#---
[ 3 -gt 2 ]; echo "[ $? ]"
#---
test 3 -gt 2; echo "test $?"
#---
[[ 3 -gt 2 ]]; echo "[[ $? ]]"
#---
[ 3 -ge 4 ]; echo "[ $? ]"
#---
test 3 -ge 4; echo "test $?"
#---
[[ 3 -ge 4 ]]; echo "[[ $? ]]"
#---
[ -f a ]; echo "[ $? ]"
#---
test -f a; echo "test $?"
#---
[[ -f a ]]; echo "[[ $? ]]"
#---
[ -f nosuch ]; echo "[ $? ]"
#---
test -f nosuch; echo "test $?"
#---
[[ -f nosuch ]]; echo "[[ $? ]]"
#---
[ -d . ]; echo "[ $? ]"
#---
test -d .; echo "test $?"
#---
[[ -d . ]]; echo "[[ $? ]]"
#---
[ -d a ]; echo "[ $? ]"
#---
test -d a; echo "test $?"
#---
[[ -d a ]]; echo "[[ $? ]]"
#---
[ -e b.txt ]; echo "[ $? ]"
#---
test -e b.txt; echo "test $?"
#---
[[ -e b.txt ]]; echo "[[ $? ]]"
#---
[ -s a ]; echo "[ $? ]"
#---
test -s a; echo "test $?"
#---
[[ -s a ]]; echo "[[ $? ]]"
#---
[ -r a ]; echo "[ $? ]"
#---
test -r a; echo "test $?"
#---
[[ -r a ]]; echo "[[ $? ]]"
#---
[ -w a ]; echo "[ $? ]"
#---
test -w a; echo "test $?"
#---
[[ -w a ]]; echo "[[ $? ]]"
#---
[ -x a ]; echo "[ $? ]"
#---
test -x a; echo "test $?"
#---
[[ -x a ]]; echo "[[ $? ]]"
#---
[ -L a ]; echo "[ $? ]"
#---
test -L a; echo "test $?"
#---
[[ -L a ]]; echo "[[ $? ]]"
#---
[ ! -f a ]; echo "[ $? ]"
#---
test ! -f a; echo "test $?"
#---
[[ ! -f a ]]; echo "[[ $? ]]"
#---
[ -f a -a -f b.txt ]; echo "[ $? ]"
#---
test -f a -a -f b.txt; echo "test $?"
#---
[[ -f a && -f b.txt ]]; echo "[[ $? ]]"
#---
[ -f a -o -f nosuch ]; echo "[ $? ]"
#---
test -f a -o -f nosuch; echo "test $?"
#---
[[ -f a || -f nosuch ]]; echo "[[ $? ]]"
#---
[ abc ]; echo "[ $? ]"
#---
test abc; echo "test $?"
#---
[[ abc ]]; echo "[[ $? ]]"
#---
[ "" ]; echo "[ $? ]"
#---
test ""; echo "test $?"
#---
[[ "" ]]; echo "[[ $? ]]"
#---
[ x -eq 1 ]; echo "[ $? ]"
#---
test x -eq 1; echo "test $?"
#---
[[ x -eq 1 ]]; echo "[[ $? ]]"
#---
[ 1 -eq ]; echo "[ $? ]"
#---
test 1 -eq; echo "test $?"
#---
[[ 1 -eq ]]; echo "[[ $? ]]"
#---
[ -h a ]; echo "[ $? ]"
#---
test -h a; echo "test $?"
#---
[[ -h a ]]; echo "[[ $? ]]"
#---
[ -O a ]; echo "[ $? ]"
#---
test -O a; echo "test $?"
#---
[[ -O a ]]; echo "[[ $? ]]"
#---
[ -t 0 ]; echo "[ $? ]"
#---
test -t 0; echo "test $?"
#---
[[ -t 0 ]]; echo "[[ $? ]]"
#---
[ a -nt b.txt ]; echo "[ $? ]"
#---
test a -nt b.txt; echo "test $?"
#---
[[ a -nt b.txt ]]; echo "[[ $? ]]"
#---
[ a -ot b.txt ]; echo "[ $? ]"
#---
test a -ot b.txt; echo "test $?"
#---
[[ a -ot b.txt ]]; echo "[[ $? ]]"
#---
[ a -ef a ]; echo "[ $? ]"
#---
test a -ef a; echo "test $?"
#---
[[ a -ef a ]]; echo "[[ $? ]]"
#---
[ ( 1 -eq 1 ) ]; echo "[ $? ]"
#---
test ( 1 -eq 1 ); echo "test $?"
#---
[[ ( 1 -eq 1 ) ]]; echo "[[ $? ]]"
#---
[ -v HOME ]; echo "[ $? ]"
#---
test -v HOME; echo "test $?"
#---
[[ -v HOME ]]; echo "[[ $? ]]"
#---
[ -v NOSUCHVAR ]; echo "[ $? ]"
#---
test -v NOSUCHVAR; echo "test $?"
#---
[[ -v NOSUCHVAR ]]; echo "[[ $? ]]"
#---
[[ abc == a* ]]; echo $?
#---
[[ abc == "a*" ]]; echo $?
#---
[[ b < a ]]; echo $?
#---
[[ a < b ]]; echo $?
#---
[[ foo123 =~ ^([a-z]+)([0-9]+)$ ]]; echo $? "${BASH_REMATCH[@]}"
#---
re="^a.c$"; [[ abc =~ $re ]]; echo $?
#---
[[ x =~ ( ]]; echo $?
#---
[[ -n $nosuch ]]; echo $?
#---
x=5; [[ $x -gt 3 && $x -lt 10 ]]; echo $?
#---
[[ ! -e nosuch ]]; echo $?
#---
[ 1 -eq 1 ] && [ 2 -eq 2 ]; echo $?
#---
[ a = a ] || echo no; echo $?
#---
[[ 010 -eq 8 ]]; echo $?
#---
[[ 1+1 -eq 2 ]]; echo $?
#---
shopt -s nocasematch; [[ ABC == abc ]]; echo $?
#---
[ "$x" = "" ]; echo $?
#---
[ ]; echo $?
#---
[ -f ]; echo $?
#---
test; echo $?
#---
[ 1 = 1; echo $?
