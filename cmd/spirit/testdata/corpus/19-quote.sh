# Host lines: quote. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
echo 'single $x \n'
#---
echo "double \$x \" ok"
#---
echo $'ansi\x41'
#---
echo $"locale"
#---
echo a\ b
#---
echo "a\nb"
#---
echo 'it'\''s'
#---
echo "a"'b'c
#---
echo \"
#---
echo "#not comment" # comment
#---
echo a#b
#---
echo a #b
#---
x='a  b'; echo $x; echo "$x"
#---
echo ""
#---
echo "" | wc -c
#---
x=; echo "[$x]" [$x]
#---
echo \\
#---
echo "\\"
#---
echo '\\'
#---
echo "$(echo '"')"
#---
x="*"; echo "${x}"
#---
echo $'\''
#---
echo "$ notvar"
#---
echo $
#---
echo "${}"; echo $?
#---
echo ${x
#---
echo "unterminated
#---
if then; fi
#---
echo )
#---
fi
#---
done
#---
;;
#---
echo a;; echo b
#---
echo a && && echo b
#---
(
#---
{ echo }
#---
for; do :; done
#---
case x in; esac
#---
f() {
#---
echo $((
#---
[[ x
#---
echo `
#---
x=(1 2
#---
{ echo a; }
#---
echo a;echo b
#---
echo a&&echo b
#---
echo a||echo b
#---
echo a |  cat
#---
true&&false||echo fallback
#---
echo a; ; echo b
#---
  echo leading space
#---
echo tab	here
#---
echo	a
#---

echo newline first
#---
echo a \
  b
#---
echo "multi
line"
#---
# only a comment
#---

#---
echo $'\u00e9' | od -An -c
#---
echo -e "\0101"
#---
x=a y=b; echo $x$y
#---
x=a\ b; echo "$x"
#---
echo {}
#---
echo {a}
#---
echo a{b
#---
echo @
#---
echo @x
#---
echo x@y
#---
echo "@linux"
#---
echo '@linux ls'
#---
echo a @b c
#---
e=@; echo $e
#---
echo foo@bar.com
#---
x=@docker; echo ${x#@}
