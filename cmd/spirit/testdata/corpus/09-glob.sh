# Host lines: glob. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
echo *
#---
shopt -s nullglob; echo [*]
#---
echo ?
#---
shopt -s nullglob; echo [?]
#---
echo [ab]*
#---
shopt -s nullglob; echo [[ab]*]
#---
echo *.txt
#---
shopt -s nullglob; echo [*.txt]
#---
echo [!a]*
#---
shopt -s nullglob; echo [[!a]*]
#---
echo *.{txt,md}
#---
shopt -s nullglob; echo [*.{txt,md}]
#---
echo c*
#---
shopt -s nullglob; echo [c*]
#---
echo nomatch*
#---
shopt -s nullglob; echo [nomatch*]
#---
echo .*
#---
shopt -s nullglob; echo [.*]
#---
echo **
#---
shopt -s nullglob; echo [**]
#---
echo [[:alpha:]]*
#---
shopt -s nullglob; echo [[[:alpha:]]*]
#---
echo [a-b]*
#---
shopt -s nullglob; echo [[a-b]*]
#---
echo *[0-9]*
#---
shopt -s nullglob; echo [*[0-9]*]
#---
echo ?.txt
#---
shopt -s nullglob; echo [?.txt]
#---
echo b*.txt
#---
shopt -s nullglob; echo [b*.txt]
#---
echo *.TXT
#---
shopt -s nullglob; echo [*.TXT]
#---
shopt -s failglob; echo nomatch*; echo status $?
#---
shopt -s nocaseglob; echo *.TXT
#---
touch .hidden; echo *; shopt -s dotglob; echo *
#---
mkdir -p d/e; touch d/e/f.txt; shopt -s globstar; echo **/*.txt
#---
shopt -s extglob; echo !(a)
#---
shopt -s extglob; echo @(a|b.txt)
#---
shopt -s extglob; echo +(c).txt
#---
shopt -s extglob; echo *(x)a
#---
shopt -s extglob; x=abc; echo ${x/+(b)/B}
#---
set -f; echo *; set +f; echo *
#---
echo "*"
#---
echo '*'
#---
echo \*
#---
x="*"; echo $x
#---
x="*"; echo "$x"
#---
GLOBIGNORE=a; echo *
#---
touch "sp ace.txt"; for f in *.txt; do echo "[$f]"; done
#---
echo [a
#---
echo a[
#---
ls *.txt
#---
ls -d [bc]*
#---
for f in *; do [ -f "$f" ] && echo "file $f"; done
#---
shopt -s nullglob; a=(*.nomatch); echo ${#a[@]}
#---
case b.txt in *.txt) echo txt;; *) echo other;; esac
