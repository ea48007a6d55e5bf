# Host lines: heredoc. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
cat <<EOF
a $((1+1)) $HOME2
EOF
#---
cat <<"EOF"
literal $x
EOF
#---
cat <<-EOF
	indented
	EOF
#---
cat <<EOF | tr a-z A-Z
upper
EOF
#---
x=val; cat <<EOF
$x ${x}s `echo bt`
EOF
#---
cat <<\EOF
$not
EOF
#---
cat << EOF
space before
EOF
#---
cat <<EOF
EOF
#---
cat <<E1; cat <<E2
one
E1
two
E2
#---
f() { cat <<EOF
in func $1
EOF
}; f arg
#---
cat <<<"here string"
#---
cat <<< $'a\tb'
#---
x="a b"; cat <<< $x
#---
wc -l <<< "one"
#---
read a <<< 5; echo $((a+1))
#---
cat <<EOF
\$escaped \\ back
EOF
#---
cat <<EOF
line1
  line2
EOF
#---
tr a b <<EOF
aaa
EOF
#---
cat <<EOF > f
to file
EOF
cat f
#---
cat <<EOF
$(echo cmd)
EOF
#---
while read l; do echo "<$l>"; done <<EOF
x
y
EOF
#---
cat <<'X Y'
quoted delim
X Y
