# Host lines that must behave under `spirit -c` exactly as under `bash -c`:
# same stdout, same stderr, same status. Entries are separated by lines
# that are only "#---". Each runs in a fresh directory holding a, b.txt, c.txt.
echo hello world
#---
echo "a  b" 'c  d' e\ \ f
#---
printf '%s|%d\n' x 42 y 7
#---
seq 1 10 | wc -l
#---
seq 1 1000 | grep 7 | sort -r | head -3
#---
echo *.txt
#---
ls | sort
#---
echo nomatch*.xyz
#---
true && echo yes || echo no
#---
false && echo yes || echo no
#---
false; echo $?
#---
exit 3
#---
(exit 42); echo status $?
#---
for i in 1 2 3; do echo "item $i"; done
#---
i=0; while [ $i -lt 5 ]; do i=$((i+1)); done; echo $i
#---
n=3; until [ $n -eq 0 ]; do echo $n; n=$((n-1)); done
#---
f() { echo "args: $# first: $1"; return 4; }; f a b c; echo $?
#---
greet() {
  local who=${1:-nobody}
  echo "hi $who"
}
greet; greet bob
#---
cat <<EOF
line one
value $((6*7))
EOF
#---
cat <<'EOF'
no $expansion here
EOF
#---
tr a-z A-Z <<< "here string"
#---
echo $((2**10)) $((17 % 5)) $((-3 + 10 / 3))
#---
a=(one two three); echo ${#a[@]} ${a[1]} "${a[@]}"
#---
a=(x y); a+=(z); for e in "${a[@]}"; do echo "<$e>"; done
#---
declare -A m; m[k]=v; echo ${m[k]}
#---
s="hello world"; echo ${s^^} ${s:0:5} ${#s} ${s/world/there}
#---
x=; echo "${x:-default}" "${y:=set}" "$y"
#---
set -o pipefail; false | true; echo $?
#---
false | true; echo $?
#---
set -o pipefail; (exit 3) | (exit 0); echo $?
#---
set -e; false; echo not reached
#---
set -e; false || true; echo reached
#---
echo to stderr >&2; echo to stdout
#---
ls /definitely/not/here; echo $?
#---
{ echo out; echo err >&2; } 2>&1 | sort
#---
echo one > f1; echo two >> f1; cat f1; wc -l < f1
#---
if [ -f a ]; then echo file; elif [ -d a ]; then echo dir; else echo none; fi
#---
case foo.txt in *.sh) echo shell;; *.txt) echo text;; *) echo other;; esac
#---
x=$(echo inner | tr a-z A-Z); echo "got $x"
#---
echo "nested $(echo "$(echo deep)")"
#---
! false; echo $?
#---
[[ abc == a* ]] && echo glob-match
#---
[[ 10 -gt 9 && -n "x" ]] && echo arith-ok
#---
echo {1..5} {a,b}c
#---
IFS=,; set -- a,b,c; echo $#; for p in $*; do echo $p; done
#---
read -r first rest <<< "alpha beta gamma"; echo "$first/$rest"
#---
printf 'b\na\nc\n' | sort | uniq -c | awk '{print $2":"$1}'
#---
export V=exported; sh -c 'echo $V'
#---
V=prefix sh -c 'echo $V'; echo "[$V]"
#---
cd /; pwd
#---
echo 'single "double" inside' "double 'single' inside"
#---
sleep 0.1 & wait; echo waited
#---
trap 'echo trapped' EXIT; echo body
#---
echo $(( 1 > 2 ? 10 : 20 ))
#---
x=5; ((x++)); ((x *= 3)); echo $x
