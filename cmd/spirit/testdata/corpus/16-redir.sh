# Host lines: redir. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
echo out > f; cat f
#---
echo one > f; echo two >> f; cat f
#---
echo err >&2
#---
echo err 2>&1 >&2 | wc -l
#---
ls nosuch 2>/dev/null; echo $?
#---
ls nosuch 2>&1 | wc -l
#---
exec 3>f; echo fd3 >&3; exec 3>&-; cat f
#---
exec 3<a; read x <&3; echo $x; exec 3<&-
#---
echo both &> f; cat f
#---
ls nosuch &> f; wc -l < f
#---
echo x 1>&2 2>/dev/null
#---
echo a > f b; cat f
#---
> empty; wc -c < empty
#---
cat < nosuch; echo $?
#---
echo x > /nonexistent/dir/f; echo $?
#---
exec 4<>rw; echo rw >&4; cat rw
#---
exec {fd}>f; echo named >&$fd; exec {fd}>&-; cat f
#---
echo x >&7; echo $?
#---
cat <&-; echo $?
#---
echo a | cat - b.txt
#---
{ echo a; echo b >&2; } 2>&1 | sort
#---
echo x >| f; cat f
#---
exec > f; echo captured; exec > /dev/stderr; cat f
#---
echo x 3>&1 1>&2 2>&3 3>&-
#---
echo "$(echo out; echo err >&2)" 2>/dev/null
#---
printf "%s\n" a b > f; sort -r f
#---
tee f < a > /dev/null; cat f
#---
echo data > "sp ace"; cat "sp ace"
#---
f=out.txt; echo var > $f; cat out.txt
#---
echo a >> f; echo b >> f; wc -l < f
#---
cat a b.txt c.txt > all; cat all
#---
echo x 2>&1 1>/dev/null
#---
echo -n > f; [ -s f ]; echo $?
#---
exec 3>&1; echo to3 >&3
#---
echo x >&-; echo $?
#---
cat <<< in 0<&0
#---
echo ambig > $nosuch; echo $?
#---
x="a b"; echo y > $x; echo $?
