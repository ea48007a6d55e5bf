# Host lines: loop. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
for i in a b c; do echo $i; done
#---
for i in; do echo never; done; echo done
#---
for i do echo $i; done
#---
set -- p q; for i do echo $i; done
#---
for ((i=10; i>7; i--)); do echo $i; done
#---
i=0; while true; do i=$((i+1)); [ $i -ge 3 ] && break; done; echo $i
#---
while break; do :; done; echo ok
#---
for i in 1 2 3 4; do [ $i = 2 ] && continue; echo $i; done
#---
for i in 1 2; do for j in a b; do [ $j = b ] && continue 2; echo $i$j; done; done
#---
for i in 1 2; do for j in a b; do [ $j = b ] && break 2; echo $i$j; done; done; echo out
#---
until false; do echo once; break; done
#---
n=0; until [ $n -ge 2 ]; do echo $n; n=$((n+1)); done
#---
break; echo after
#---
continue; echo after
#---
for i in 1; do break 5; done; echo $?
#---
select x in a b; do echo $x; done < /dev/null; echo "status $?"
#---
case x in a) echo a;; x|y) echo xy;; esac
#---
case abc in a*c) echo match;; esac
#---
case "" in "") echo empty;; esac
#---
case x in a) echo a;; esac; echo "status $?"
#---
case b in a) echo a;& b) echo b;& c) echo c;; d) echo d;; esac
#---
case b in b) echo b;;& *) echo star;; esac
#---
if false; then echo a; elif true; then echo b; else echo c; fi
#---
if ! false; then echo negated; fi
#---
x=$(if true; then echo in; fi); echo $x
#---
while read -r l; do echo "$l"; done < a
#---
for f in $(seq 3); do echo -n $f; done; echo
#---
for i in {1..5..2}; do echo $i; done
#---
for i in {a..e}; do echo -n $i; done; echo
#---
for i in {05..10..5}; do echo $i; done
#---
echo {1..3}{a,b}
#---
echo {a,b,c}-{x,y}
#---
echo {z..w}
#---
echo {1..3
#---
echo a{,b}c
#---
echo {"a b",c}
#---
i=0; while ((i < 3)); do ((i++)); done; echo "i=$i"
#---
for i in 1 2 3; do :; done; echo $i
#---
if (( 2 > 1 )); then echo gt; fi
#---
true | while read x; do echo never; done; echo ok
#---
seq 3 | while read n; do last=$n; done; echo "last=$last"
#---
shopt -s lastpipe; seq 3 | while read n; do last=$n; done; echo "last=$last"
