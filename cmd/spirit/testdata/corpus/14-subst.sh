# Host lines: subst. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
x=$(echo hi); echo $x
#---
x=`echo back`; echo $x
#---
echo "$(echo "nested $(echo deep)")"
#---
x=$(printf "a\n\n\n"); echo "[$x]"
#---
(x=sub; echo $x); echo "[$x]"
#---
(exit 3); echo $?
#---
(cd /; pwd); pwd | wc -l
#---
echo $(( $(echo 2) * 3 ))
#---
diff <(echo a) <(echo a); echo $?
#---
cat <(echo proc)
#---
echo hi > >(cat); wait $!
#---
x=$(exit 4); echo $?
#---
echo "$(echo "a  b")"
#---
echo $(echo "a  b")
#---
x=$(cat a); echo $x
#---
x=$(< a); echo $x
#---
( ( echo deep ) )
#---
{ echo grouped; echo two; } | wc -l
#---
echo "$(ls | wc -l)"
#---
out=$( { echo o; echo e >&2; } 2>&1 ); echo "[$out]"
#---
echo $BASH_SUBSHELL; (echo $BASH_SUBSHELL)
#---
x=$(echo $BASH_SUBSHELL); echo $x
#---
v=1; f() { v=2; }; x=$(f); echo $v
#---
echo $(echo $(echo $(echo 3)))
#---
wc -l < <(seq 4)
#---
while read l; do echo "$l"; done < <(printf "p\nq\n")
#---
x=$(echo a; exit 2); echo "$x $?"
#---
echo "`echo \`echo inner\``"
#---
echo $(cat <<EOF
heredoc in subst
EOF
)
#---
echo $( (echo paren) )
#---
echo "a$(true)b"
#---
x="$(printf "%s" "")"; echo "[${#x}]"
