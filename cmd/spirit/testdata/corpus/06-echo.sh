# Host lines: echo. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
echo -n a
#---
echo -e "a\tb"
#---
echo -E "a\tb"
#---
echo "a\tb"
#---
echo -e "\x41\0101"
#---
echo -e "a\cb"
#---
echo -ne "x\n"
#---
echo -- -n
#---
echo -n
#---
echo -e "\e[0m" | od -c | head -1
#---
echo a    b
#---
echo "a    b"
#---
echo '$HOME'
#---
echo \$x
#---
echo -e "\\"
#---
echo -en "a\nb"
#---
echo -e "\u263a"
#---
echo *.txt
#---
echo "*.txt"
#---
echo {a,b}
#---
echo -x
#---
shopt -s xpg_echo; echo "a\tb"
#---
set -o posix; echo -e x
#---
echo $'a\tb'
#---
echo "$(echo -n)"end
#---
echo ""''x
