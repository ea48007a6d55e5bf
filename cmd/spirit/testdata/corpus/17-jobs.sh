# Host lines: jobs. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
sleep 0.1 & wait $!; echo $?
#---
sleep 1 & jobs
#---
sleep 5 & kill %1; wait %1; echo $?
#---
sleep 5 & kill -TERM %1; wait; echo done
#---
(exit 7) & wait $!; echo $?
#---
sleep 0.1 & sleep 0.1 & wait; echo all
#---
true & wait %1; echo $?
#---
sleep 5 & disown; jobs; echo $?
#---
wait; echo $?
#---
wait %9; echo $?
#---
sleep 5 & kill -9 %1; wait %1 2>/dev/null; echo $?
#---
false & wait -n; echo $?
#---
sleep 5 & jobs -l | wc -l; kill %1
#---
sleep 0.2 & jobs %1; wait
#---
kill %1; echo $?
#---
fg; echo $?
#---
bg; echo $?
#---
sleep 5 & kill %sleep; wait; echo $?
#---
sleep 5 & kill %%; wait; echo $?
#---
sleep 5 & jobs -p | wc -l; kill %1
#---
{ sleep 0.1; echo bg; } & wait
#---
for i in 1 2; do (exit $i) & done; wait; echo done
#---
sleep 1 & j=$!; kill $j; wait $j; echo $?
#---
kill -l 15
#---
kill -l TERM
#---
kill -0 $$; echo $?
#---
kill -s NOSUCH $$; echo $?
#---
kill; echo $?
#---
sleep 0 & wait -f $!; echo $?
