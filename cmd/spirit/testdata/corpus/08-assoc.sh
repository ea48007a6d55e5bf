# Host lines: assoc. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
declare -A A=([k]=v [x]=y); echo "${A[k]} ${#A[@]}"
#---
declare -A A; (( A[k] += 1 )); (( A[k] += 1 )); echo "${A[k]}"
#---
declare -A A; A[a b]=1; echo "${A[a b]}"
#---
declare -A A=([one]=1); A[two]=2; for k in $(printf "%s\n" "${!A[@]}" | sort); do echo "$k=${A[$k]}"; done
#---
declare -A A=([k]=v); unset "A[k]"; echo ${#A[@]}
#---
declare -A A=([k]=v); [[ -v A[k] ]]; echo $?
#---
declare -A A=([k]=v); [[ -v A[z] ]]; echo $?
#---
declare -A A=([k]=v); declare -p A
#---
declare -A A; A[x]=1; A[x]+=2; echo ${A[x]}
#---
declare -A A; k="a-b"; A[$k]=z; echo "${A[a-b]}"
#---
declare -A A=([b]=2 [a]=1); printf "%s\n" "${A[@]}" | sort
#---
declare -A A; echo "[${A[nope]}]"
#---
A[x]=1; A[y]=2; echo ${A[@]}
#---
declare -A A=([x]=1); B=A; declare -n R=A; echo ${R[x]}
#---
declare -A A=([k]=5); echo $(( A[k] * 2 ))
#---
declare -A A; A["$((1+1))"]=two; echo ${A[2]}
#---
declare -A A=([a]=1 [b]=2); echo ${#A[@]}; unset A; echo ${#A[@]}
#---
declare -A A=(a 1 b 2); echo ${A[b]}
#---
declare -A A; A=([x]=1) ; A+=([y]=2); echo ${#A[@]}
#---
declare -A cnt; for w in a b a c a; do (( cnt[$w]++ )); done; echo ${cnt[a]} ${cnt[b]}
#---
declare -A A=([k]=v); echo "${A[@]@K}"
#---
declare -A A=([k]="a b"); for v in "${A[@]}"; do echo "[$v]"; done
#---
declare -A A; A[k]=v; local_copy=$(declare -p A); echo "${local_copy#declare }"
