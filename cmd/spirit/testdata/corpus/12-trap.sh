# Host lines: trap. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
trap "echo bye" EXIT; echo main
#---
trap "echo bye" EXIT; exit 3
#---
trap "echo err" ERR; false; echo after
#---
trap "echo int" INT; kill -INT $$; echo after
#---
trap "echo term" TERM; kill -TERM $$; echo after
#---
trap "echo usr1" USR1; kill -USR1 $$; echo after
#---
trap "echo usr1" USR1; kill -s USR1 $$; echo $?
#---
trap - INT; trap -p INT; echo $?
#---
trap "echo x" INT; trap -p INT
#---
trap "" INT; kill -INT $$; echo ignored
#---
trap "echo a" EXIT; trap "echo b" EXIT; true
#---
trap "echo exit \$?" EXIT; false
#---
(trap "echo sub" EXIT; echo in); echo out
#---
trap "echo hup" HUP; kill -HUP $$; echo after
#---
kill -USR1 $$; echo not reached
#---
trap "echo \$BASH_COMMAND" DEBUG; echo a
#---
set -E; trap "echo errtrap" ERR; f() { false; }; f; echo done
#---
trap "echo one" USR1 USR2; kill -USR2 $$
#---
trap -l | head -2
#---
trap "exit 9" INT; kill -INT $$; echo no
#---
trap; echo $?
#---
trap "echo bye" 0; echo zero
#---
trap "echo \$LINENO" ERR; false
#---
f() { trap "echo in f" EXIT; }; f; echo after f
#---
trap "echo caught; exit 0" TERM; sleep 10 & kill -TERM $$; wait
#---
trap "echo x" NOSUCH; echo $?
#---
set -e; trap "echo on exit" EXIT; false
#---
trap "echo err \$?" ERR; (exit 5); echo $?
