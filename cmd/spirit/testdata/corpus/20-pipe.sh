# Host lines: pipe. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
seq 5 | tail -2
#---
seq 100 | grep 5 | wc -l
#---
echo abc | rev
#---
printf "b\na\nc\n" | sort | head -1
#---
seq 3 | paste -sd+ | bc 2>/dev/null || echo nobc
#---
echo hello | tr l L
#---
yes | head -3
#---
seq 10 | awk "{s+=\$1} END {print s}"
#---
echo "a,b,c" | cut -d, -f2
#---
seq 5 | sed -n 2p
#---
echo x |& cat
#---
ls nosuch |& wc -l
#---
seq 3 | { read a; cat; }
#---
echo a | { cat; echo b; }
#---
TIMEFORMAT='timed %%'; time true; echo $?
#---
seq 20000 | head -1
#---
yes | head -c 10 | wc -c
#---
cat /dev/null | wc -l
#---
seq 3 | tac
#---
echo a b c | xargs -n1
#---
printf "1 2\n3 4\n" | while read a b; do echo $((a+b)); done
#---
echo x | grep -q x && echo found
#---
echo x | grep -q y || echo missing
#---
seq 1000 | sort -n | tail -1
#---
echo "  trim  " | xargs
#---
echo abc | od -c | head -1
#---
echo $(seq 3)
#---
seq 3 | sort -r | head -1
#---
head -c 5 /dev/zero | wc -c
#---
echo b | cat a - c.txt
#---
cat a | cat | cat
#---
echo done | (read x; echo $x)
#---
seq 5 | grep -v 3 | wc -l
#---
echo x | false | true; echo $?
