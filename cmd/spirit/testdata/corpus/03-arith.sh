# Host lines: arith. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
echo $((1+2)); echo "status $?"
#---
(( 1+2 )); echo "status $?"
#---
echo $((7/2)); echo "status $?"
#---
(( 7/2 )); echo "status $?"
#---
echo $((7%3)); echo "status $?"
#---
(( 7%3 )); echo "status $?"
#---
echo $((-7/2)); echo "status $?"
#---
(( -7/2 )); echo "status $?"
#---
echo $((-7%3)); echo "status $?"
#---
(( -7%3 )); echo "status $?"
#---
echo $((2**10)); echo "status $?"
#---
(( 2**10 )); echo "status $?"
#---
echo $((1<<4)); echo "status $?"
#---
(( 1<<4 )); echo "status $?"
#---
echo $((256>>3)); echo "status $?"
#---
(( 256>>3 )); echo "status $?"
#---
echo $((0x10)); echo "status $?"
#---
(( 0x10 )); echo "status $?"
#---
echo $((010)); echo "status $?"
#---
(( 010 )); echo "status $?"
#---
echo $((2#101)); echo "status $?"
#---
(( 2#101 )); echo "status $?"
#---
echo $((36#z)); echo "status $?"
#---
(( 36#z )); echo "status $?"
#---
echo $((16#ff)); echo "status $?"
#---
(( 16#ff )); echo "status $?"
#---
echo $((5>3)); echo "status $?"
#---
(( 5>3 )); echo "status $?"
#---
echo $((5<3)); echo "status $?"
#---
(( 5<3 )); echo "status $?"
#---
echo $((5==5)); echo "status $?"
#---
(( 5==5 )); echo "status $?"
#---
echo $((5!=5)); echo "status $?"
#---
(( 5!=5 )); echo "status $?"
#---
echo $((!0)); echo "status $?"
#---
(( !0 )); echo "status $?"
#---
echo $((!5)); echo "status $?"
#---
(( !5 )); echo "status $?"
#---
echo $((~5)); echo "status $?"
#---
(( ~5 )); echo "status $?"
#---
echo $((5^3)); echo "status $?"
#---
(( 5^3 )); echo "status $?"
#---
echo $((5|3)); echo "status $?"
#---
(( 5|3 )); echo "status $?"
#---
echo $((5&3)); echo "status $?"
#---
(( 5&3 )); echo "status $?"
#---
echo $((1&&0)); echo "status $?"
#---
(( 1&&0 )); echo "status $?"
#---
echo $((1||0)); echo "status $?"
#---
(( 1||0 )); echo "status $?"
#---
echo $((3>2?10:20)); echo "status $?"
#---
(( 3>2?10:20 )); echo "status $?"
#---
echo $(((1+2)*3)); echo "status $?"
#---
(( (1+2)*3 )); echo "status $?"
#---
echo $((1+2*3)); echo "status $?"
#---
(( 1+2*3 )); echo "status $?"
#---
echo $((10-2-3)); echo "status $?"
#---
(( 10-2-3 )); echo "status $?"
#---
echo $((2**3**2)); echo "status $?"
#---
(( 2**3**2 )); echo "status $?"
#---
echo $((-2**2)); echo "status $?"
#---
(( -2**2 )); echo "status $?"
#---
echo $((+5)); echo "status $?"
#---
(( +5 )); echo "status $?"
#---
echo $((--5)); echo "status $?"
#---
(( --5 )); echo "status $?"
#---
echo $((7/-2)); echo "status $?"
#---
(( 7/-2 )); echo "status $?"
#---
echo $((a=5, a*2)); echo "status $?"
#---
(( a=5, a*2 )); echo "status $?"
#---
echo $((a=3, a+=4)); echo "status $?"
#---
(( a=3, a+=4 )); echo "status $?"
#---
echo $((a=10, a-=3)); echo "status $?"
#---
(( a=10, a-=3 )); echo "status $?"
#---
echo $((a=4, a*=5)); echo "status $?"
#---
(( a=4, a*=5 )); echo "status $?"
#---
echo $((a=17, a%=5)); echo "status $?"
#---
(( a=17, a%=5 )); echo "status $?"
#---
echo $((a=1, a<<=3)); echo "status $?"
#---
(( a=1, a<<=3 )); echo "status $?"
#---
echo $((a=12, a&=10)); echo "status $?"
#---
(( a=12, a&=10 )); echo "status $?"
#---
echo $((a=12, a|=3)); echo "status $?"
#---
(( a=12, a|=3 )); echo "status $?"
#---
echo $((a=12, a^=5)); echo "status $?"
#---
(( a=12, a^=5 )); echo "status $?"
#---
echo $((i=5, i++ + i)); echo "status $?"
#---
(( i=5, i++ + i )); echo "status $?"
#---
echo $((i=5, ++i)); echo "status $?"
#---
(( i=5, ++i )); echo "status $?"
#---
echo $((i=5, i--)); echo "status $?"
#---
(( i=5, i-- )); echo "status $?"
#---
echo $((i=5, --i)); echo "status $?"
#---
(( i=5, --i )); echo "status $?"
#---
echo $((9223372036854775807+1)); echo "status $?"
#---
(( 9223372036854775807+1 )); echo "status $?"
#---
echo $((1/0)); echo "status $?"
#---
(( 1/0 )); echo "status $?"
#---
echo $((5%0)); echo "status $?"
#---
(( 5%0 )); echo "status $?"
#---
echo $((3 +)); echo "status $?"
#---
(( 3 + )); echo "status $?"
#---
echo $((08)); echo "status $?"
#---
(( 08 )); echo "status $?"
#---
echo $((0x)); echo "status $?"
#---
(( 0x )); echo "status $?"
#---
echo $((x=abc, x)); echo "status $?"
#---
(( x=abc, x )); echo "status $?"
#---
echo $(('1'+1)); echo "status $?"
#---
(( '1'+1 )); echo "status $?"
#---
echo $((b=3, b*b)); echo "status $?"
#---
(( b=3, b*b )); echo "status $?"
#---
echo $(((2+3)%4)); echo "status $?"
#---
(( (2+3)%4 )); echo "status $?"
#---
echo $((1 ? 2 : 3)); echo "status $?"
#---
(( 1 ? 2 : 3 )); echo "status $?"
#---
echo $((0 ? 2 : 3)); echo "status $?"
#---
(( 0 ? 2 : 3 )); echo "status $?"
#---
echo $((64#@)); echo "status $?"
#---
(( 64#@ )); echo "status $?"
#---
echo $((64#_)); echo "status $?"
#---
(( 64#_ )); echo "status $?"
#---
echo $((2#)); echo "status $?"
#---
(( 2# )); echo "status $?"
#---
echo $((10#08)); echo "status $?"
#---
(( 10#08 )); echo "status $?"
#---
let x=5 y=x*2; echo $x $y
#---
let "x = 1 + 1"; echo $x
#---
let 0; echo $?
#---
i=0; ((i++)); echo $? $i
#---
i=0; ((++i)); echo $? $i
#---
declare -i x; x=3+4; echo $x
#---
declare -i x=10; x+=5; echo $x
#---
x=3; echo $[x*2]
#---
for ((i=0;i<3;i++)); do echo $i; done
#---
x=0; while ((x<3)); do ((x++)); done; echo $x
#---
echo $(( $(echo 3) + 4 ))
#---
a=2; b=a; echo $((b+1))
#---
echo $((RANDOM >= 0))
#---
set -e; ((0)); echo not reached
#---
set -e; ((0)) || true; echo reached
