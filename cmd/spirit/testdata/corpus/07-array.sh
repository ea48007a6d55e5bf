# Host lines: array. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
a=(1 2 3); echo "${a[@]}" "${#a[@]}"
#---
a=(1 2 3); a+=(4); echo "${a[3]}"
#---
a=(x y z); unset "a[1]"; echo "${a[@]}" "${!a[@]}"
#---
a=([5]=five [2]=two); echo "${!a[@]}"
#---
a=(a b c); echo "${a[-1]}"
#---
a=(a b c); echo "${a[@]:1:1}"
#---
a=(); echo ${#a[@]}
#---
a=("x y" z); for i in "${a[@]}"; do echo "[$i]"; done
#---
a=("x y" z); for i in ${a[@]}; do echo "[$i]"; done
#---
a=(3 1 2); IFS=$'\n'; echo "$(sort <<< "${a[*]}")"
#---
a=(1 2 3); declare -p a
#---
a[10]=x; echo ${#a[@]} ${!a[@]}
#---
a=(a b); b=("${a[@]}"); b[0]=z; echo "${a[0]} ${b[0]}"
#---
a=(a b c); echo "${a[*]}"
#---
a=(a b c); IFS=-; echo "${a[*]}"
#---
a=(one two); echo "${#a[1]}"
#---
a=(x); a[1]+=y; a[0]+=z; echo "${a[@]}"
#---
declare -a a=(1 2); echo ${a[1]}
#---
a=(1 2 3); echo $((a[0]+a[2]))
#---
a=(1 2 3); (( a[1] *= 10 )); echo "${a[@]}"
#---
a=(b a c); for i in "${!a[@]}"; do echo "$i=${a[i]}"; done
#---
a=(1 2 3); unset a; echo "[${a[@]}]"
#---
a=(x y); echo "${a}"
#---
a=(1 2 3); echo "${a[@]/#/pre-}"
#---
a=(f1 f2); echo "${a[@]%1}"
#---
read -a a <<< "a b"; a=("${a[@]}" c); echo ${#a[@]}
#---
a=(a b c d); echo "${a[@]: -2}"
#---
readonly -a ro=(1); ro[0]=2; echo $?
#---
a=(1 2); a=(); echo ${#a[@]}
#---
a=( $(echo 1 2 3) ); echo ${#a[@]}
#---
set -- x y; a=("$@"); echo ${a[1]}
#---
a=([0]=a [1]=b); unset a[0]; echo ${a[@]}
#---
i=1; a=(x y z); echo ${a[i+1]}
#---
a=(*.txt); echo "${a[@]}"
#---
a=(1 2 3); echo ${a[@]:0:$((${#a[@]}-1))}
#---
a=(x); echo ${a[5]-unset}
#---
a=(x y); printf "%s\n" "${a[@]}"
#---
declare -a a; a[2]=c; a[0]=a; echo "${a[@]}"
#---
a=(10 20); for ((i=0;i<${#a[@]};i++)); do echo ${a[i]}; done
