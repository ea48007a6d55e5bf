# Host lines: read. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
read a b <<< "x y z"; echo "[$a][$b]"
#---
read -r line <<< "a\\b"; echo "$line"
#---
read line <<< "a\\b"; echo "$line"
#---
read -d : x <<< "ab:cd"; echo "$x"
#---
read -n 2 x <<< "abcd"; echo "$x"
#---
read -N 3 x <<< "a b c"; echo "[$x]"
#---
read -a arr <<< "1 2 3"; echo "${#arr[@]} ${arr[1]}"
#---
IFS=: read a b c <<< "x:y:z"; echo "$b"
#---
read x < /dev/null; echo "status $? [$x]"
#---
echo "hello" | { read x; echo "got $x"; }
#---
read -t 0 x < /dev/null; echo $?
#---
exec 3<<< "from three"; read -u 3 x; echo "$x"
#---
printf "a\nb\nc\n" | while read l; do echo "<$l>"; done
#---
printf "a b\n" | { read; echo "[$REPLY]"; }
#---
read -r -a w <<< "  a   b  "; echo "${#w[@]}"
#---
IFS= read -r x <<< "  spaced  "; echo "[$x]"
#---
read x y <<< "only"; echo "[$x][$y]"
#---
printf "x\0y\0" | { read -d "" a; read -d "" b; echo "$a$b"; }
#---
read -p "prompt: " x <<< "v"; echo "$x"
#---
read -s x <<< "secret"; echo "$x"
#---
read -n 0 x <<< "abc"; echo "[$x] $?"
#---
read 1x <<< a; echo $?
#---
mapfile -t lines < <(printf "l1\nl2\n"); echo "${#lines[@]} ${lines[1]}"
#---
readarray -t a <<< $'x\ny'; declare -p a
#---
mapfile -s 1 -n 1 a < <(seq 5); echo "${a[@]}"
#---
printf "1\n2\n" | mapfile -t a; echo "${#a[@]}"
#---
read -r a <<< ""; echo "[$a] $?"
#---
while IFS== read k v; do echo "$k -> $v"; done <<< $'a=1\nb=2'
#---
read -d "" -r x <<< "multi
line"; echo "$x"
