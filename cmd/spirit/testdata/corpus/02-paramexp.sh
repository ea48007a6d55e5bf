# Host lines: paramexp. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
unset v; echo "[${v:-d}]"
#---
unset v; echo "[${v-d}]"
#---
unset v; echo "[${v:+alt}]"
#---
unset v; echo "[${v+alt}]"
#---
unset v; echo "[${#v}]"
#---
unset v; echo "[${v#*/}]"
#---
unset v; echo "[${v##*/}]"
#---
unset v; echo "[${v%/*}]"
#---
unset v; echo "[${v%%/*}]"
#---
unset v; echo "[${v/l/L}]"
#---
unset v; echo "[${v//l/L}]"
#---
unset v; echo "[${v/#a/A}]"
#---
unset v; echo "[${v/%c/C}]"
#---
unset v; echo "[${v:1}]"
#---
unset v; echo "[${v:1:3}]"
#---
unset v; echo "[${v: -2}]"
#---
unset v; echo "[${v^}]"
#---
unset v; echo "[${v^^}]"
#---
unset v; echo "[${v,}]"
#---
unset v; echo "[${v,,}]"
#---
unset v; echo "[${v@Q}]"
#---
unset v; echo "[${v@U}]"
#---
unset v; echo "[${v@L}]"
#---
unset v; echo "[${v@u}]"
#---
unset v; echo "[${v#*.}]"
#---
unset v; echo "[${v%.*}]"
#---
unset v; echo "[${v:0:1}]"
#---
unset v; echo "[${v//[aeiou]/_}]"
#---
unset v; echo "[${v~~}]"
#---
v=; echo "[${v:-d}]"
#---
v=; echo "[${v-d}]"
#---
v=; echo "[${v:+alt}]"
#---
v=; echo "[${v+alt}]"
#---
v=; echo "[${#v}]"
#---
v=; echo "[${v#*/}]"
#---
v=; echo "[${v##*/}]"
#---
v=; echo "[${v%/*}]"
#---
v=; echo "[${v%%/*}]"
#---
v=; echo "[${v/l/L}]"
#---
v=; echo "[${v//l/L}]"
#---
v=; echo "[${v/#a/A}]"
#---
v=; echo "[${v/%c/C}]"
#---
v=; echo "[${v:1}]"
#---
v=; echo "[${v:1:3}]"
#---
v=; echo "[${v: -2}]"
#---
v=; echo "[${v^}]"
#---
v=; echo "[${v^^}]"
#---
v=; echo "[${v,}]"
#---
v=; echo "[${v,,}]"
#---
v=; echo "[${v@Q}]"
#---
v=; echo "[${v@U}]"
#---
v=; echo "[${v@L}]"
#---
v=; echo "[${v@u}]"
#---
v=; echo "[${v#*.}]"
#---
v=; echo "[${v%.*}]"
#---
v=; echo "[${v:0:1}]"
#---
v=; echo "[${v//[aeiou]/_}]"
#---
v=; echo "[${v~~}]"
#---
v=abc/def/ghi.txt; echo "[${v:-d}]"
#---
v=abc/def/ghi.txt; echo "[${v-d}]"
#---
v=abc/def/ghi.txt; echo "[${v:+alt}]"
#---
v=abc/def/ghi.txt; echo "[${v+alt}]"
#---
v=abc/def/ghi.txt; echo "[${#v}]"
#---
v=abc/def/ghi.txt; echo "[${v#*/}]"
#---
v=abc/def/ghi.txt; echo "[${v##*/}]"
#---
v=abc/def/ghi.txt; echo "[${v%/*}]"
#---
v=abc/def/ghi.txt; echo "[${v%%/*}]"
#---
v=abc/def/ghi.txt; echo "[${v/l/L}]"
#---
v=abc/def/ghi.txt; echo "[${v//l/L}]"
#---
v=abc/def/ghi.txt; echo "[${v/#a/A}]"
#---
v=abc/def/ghi.txt; echo "[${v/%c/C}]"
#---
v=abc/def/ghi.txt; echo "[${v:1}]"
#---
v=abc/def/ghi.txt; echo "[${v:1:3}]"
#---
v=abc/def/ghi.txt; echo "[${v: -2}]"
#---
v=abc/def/ghi.txt; echo "[${v^}]"
#---
v=abc/def/ghi.txt; echo "[${v^^}]"
#---
v=abc/def/ghi.txt; echo "[${v,}]"
#---
v=abc/def/ghi.txt; echo "[${v,,}]"
#---
v=abc/def/ghi.txt; echo "[${v@Q}]"
#---
v=abc/def/ghi.txt; echo "[${v@U}]"
#---
v=abc/def/ghi.txt; echo "[${v@L}]"
#---
v=abc/def/ghi.txt; echo "[${v@u}]"
#---
v=abc/def/ghi.txt; echo "[${v#*.}]"
#---
v=abc/def/ghi.txt; echo "[${v%.*}]"
#---
v=abc/def/ghi.txt; echo "[${v:0:1}]"
#---
v=abc/def/ghi.txt; echo "[${v//[aeiou]/_}]"
#---
v=abc/def/ghi.txt; echo "[${v~~}]"
#---
v='Hello World'; echo "[${v:-d}]"
#---
v='Hello World'; echo "[${v-d}]"
#---
v='Hello World'; echo "[${v:+alt}]"
#---
v='Hello World'; echo "[${v+alt}]"
#---
v='Hello World'; echo "[${#v}]"
#---
v='Hello World'; echo "[${v#*/}]"
#---
v='Hello World'; echo "[${v##*/}]"
#---
v='Hello World'; echo "[${v%/*}]"
#---
v='Hello World'; echo "[${v%%/*}]"
#---
v='Hello World'; echo "[${v/l/L}]"
#---
v='Hello World'; echo "[${v//l/L}]"
#---
v='Hello World'; echo "[${v/#a/A}]"
#---
v='Hello World'; echo "[${v/%c/C}]"
#---
v='Hello World'; echo "[${v:1}]"
#---
v='Hello World'; echo "[${v:1:3}]"
#---
v='Hello World'; echo "[${v: -2}]"
#---
v='Hello World'; echo "[${v^}]"
#---
v='Hello World'; echo "[${v^^}]"
#---
v='Hello World'; echo "[${v,}]"
#---
v='Hello World'; echo "[${v,,}]"
#---
v='Hello World'; echo "[${v@Q}]"
#---
v='Hello World'; echo "[${v@U}]"
#---
v='Hello World'; echo "[${v@L}]"
#---
v='Hello World'; echo "[${v@u}]"
#---
v='Hello World'; echo "[${v#*.}]"
#---
v='Hello World'; echo "[${v%.*}]"
#---
v='Hello World'; echo "[${v:0:1}]"
#---
v='Hello World'; echo "[${v//[aeiou]/_}]"
#---
v='Hello World'; echo "[${v~~}]"
#---
v=a.b.c.d; echo "[${v:-d}]"
#---
v=a.b.c.d; echo "[${v-d}]"
#---
v=a.b.c.d; echo "[${v:+alt}]"
#---
v=a.b.c.d; echo "[${v+alt}]"
#---
v=a.b.c.d; echo "[${#v}]"
#---
v=a.b.c.d; echo "[${v#*/}]"
#---
v=a.b.c.d; echo "[${v##*/}]"
#---
v=a.b.c.d; echo "[${v%/*}]"
#---
v=a.b.c.d; echo "[${v%%/*}]"
#---
v=a.b.c.d; echo "[${v/l/L}]"
#---
v=a.b.c.d; echo "[${v//l/L}]"
#---
v=a.b.c.d; echo "[${v/#a/A}]"
#---
v=a.b.c.d; echo "[${v/%c/C}]"
#---
v=a.b.c.d; echo "[${v:1}]"
#---
v=a.b.c.d; echo "[${v:1:3}]"
#---
v=a.b.c.d; echo "[${v: -2}]"
#---
v=a.b.c.d; echo "[${v^}]"
#---
v=a.b.c.d; echo "[${v^^}]"
#---
v=a.b.c.d; echo "[${v,}]"
#---
v=a.b.c.d; echo "[${v,,}]"
#---
v=a.b.c.d; echo "[${v@Q}]"
#---
v=a.b.c.d; echo "[${v@U}]"
#---
v=a.b.c.d; echo "[${v@L}]"
#---
v=a.b.c.d; echo "[${v@u}]"
#---
v=a.b.c.d; echo "[${v#*.}]"
#---
v=a.b.c.d; echo "[${v%.*}]"
#---
v=a.b.c.d; echo "[${v:0:1}]"
#---
v=a.b.c.d; echo "[${v//[aeiou]/_}]"
#---
v=a.b.c.d; echo "[${v~~}]"
#---
unset v; echo "[${v:=set}]" "[$v]"
#---
unset v; echo "${v:?is empty or unset}"; echo after
#---
unset v; echo "${v?is unset}"; echo after
#---
set -u; unset v; echo "[$v]"; echo after
#---
v=; echo "[${v:=set}]" "[$v]"
#---
v=; echo "${v:?is empty or unset}"; echo after
#---
v=; echo "${v?is unset}"; echo after
#---
set -u; v=; echo "[$v]"; echo after
#---
v=abc/def/ghi.txt; echo "[${v:=set}]" "[$v]"
#---
v=abc/def/ghi.txt; echo "${v:?is empty or unset}"; echo after
#---
v=abc/def/ghi.txt; echo "${v?is unset}"; echo after
#---
set -u; v=abc/def/ghi.txt; echo "[$v]"; echo after
#---
v='Hello World'; echo "[${v:=set}]" "[$v]"
#---
v='Hello World'; echo "${v:?is empty or unset}"; echo after
#---
v='Hello World'; echo "${v?is unset}"; echo after
#---
set -u; v='Hello World'; echo "[$v]"; echo after
#---
v=a.b.c.d; echo "[${v:=set}]" "[$v]"
#---
v=a.b.c.d; echo "${v:?is empty or unset}"; echo after
#---
v=a.b.c.d; echo "${v?is unset}"; echo after
#---
set -u; v=a.b.c.d; echo "[$v]"; echo after
#---
ref=HOME2; HOME2=x; echo "${!ref}"
#---
a=1 ab=2 ac=3; echo "${!a*}"
#---
set -- a b c; echo "${#}" "${@:2}" "${*:1:2}"
#---
set -- "a b" c; for x in "$@"; do echo "[$x]"; done
#---
set -- "a b" c; for x in $*; do echo "[$x]"; done
#---
set -- "a b" c; IFS=,; echo "$*"
#---
arr=(x y z); echo "${arr[@]/y/Y}" "${#arr[@]}" "${arr[@]:1}"
#---
v=abc; echo "${v@A}"
#---
declare -i n=5; echo "${n@a}"
#---
v=$(printf "a\tb"); echo "${v@Q}"
#---
echo "${nosuch:-$((1+2))}"
#---
x=5; echo "${x:-${y:-z}}"
#---
f="a*b"; g=aXXb; echo "${g/$f/match}" "${g/"$f"/literal}"
#---
v=aaa; echo "${v/a}" "${v//a}"
#---
v=/usr/local/bin; IFS=/; set -- $v; echo $# "$2"
#---
echo "${0}"
#---
echo "$0" "$#"
#---
v="  lead"; echo "[${v#"${v%%[! ]*}"}]"
#---
v=x; echo ${v:-"a  b"}
#---
unset v; echo "${v[0]:-none}"
