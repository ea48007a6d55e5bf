# Host lines: printf. spirit -c LINE must give bash -c LINE spirit's stdout,
# stderr and status. Entries are separated by lines that are only "#---".
printf '%s\n' 42; echo " status $?"
#---
printf '%s\n' -7; echo " status $?"
#---
printf '%s\n' 3.14159; echo " status $?"
#---
printf '%s\n' hello; echo " status $?"
#---
printf '%s\n' 'a b'; echo " status $?"
#---
printf '%s\n' 0x1f; echo " status $?"
#---
printf '%s\n' '\tx' abc
#---
printf '[%5s]\n' 42; echo " status $?"
#---
printf '[%5s]\n' -7; echo " status $?"
#---
printf '[%5s]\n' 3.14159; echo " status $?"
#---
printf '[%5s]\n' hello; echo " status $?"
#---
printf '[%5s]\n' 'a b'; echo " status $?"
#---
printf '[%5s]\n' 0x1f; echo " status $?"
#---
printf '[%5s]\n' '\tx' abc
#---
printf '[%-5s]\n' 42; echo " status $?"
#---
printf '[%-5s]\n' -7; echo " status $?"
#---
printf '[%-5s]\n' 3.14159; echo " status $?"
#---
printf '[%-5s]\n' hello; echo " status $?"
#---
printf '[%-5s]\n' 'a b'; echo " status $?"
#---
printf '[%-5s]\n' 0x1f; echo " status $?"
#---
printf '[%-5s]\n' '\tx' abc
#---
printf '[%.2s]\n' 42; echo " status $?"
#---
printf '[%.2s]\n' -7; echo " status $?"
#---
printf '[%.2s]\n' 3.14159; echo " status $?"
#---
printf '[%.2s]\n' hello; echo " status $?"
#---
printf '[%.2s]\n' 'a b'; echo " status $?"
#---
printf '[%.2s]\n' 0x1f; echo " status $?"
#---
printf '[%.2s]\n' '\tx' abc
#---
printf '%d\n' 42; echo " status $?"
#---
printf '%d\n' -7; echo " status $?"
#---
printf '%d\n' 3.14159; echo " status $?"
#---
printf '%d\n' hello; echo " status $?"
#---
printf '%d\n' 'a b'; echo " status $?"
#---
printf '%d\n' 0x1f; echo " status $?"
#---
printf '%d\n' '\tx' abc
#---
printf '[%5d]\n' 42; echo " status $?"
#---
printf '[%5d]\n' -7; echo " status $?"
#---
printf '[%5d]\n' 3.14159; echo " status $?"
#---
printf '[%5d]\n' hello; echo " status $?"
#---
printf '[%5d]\n' 'a b'; echo " status $?"
#---
printf '[%5d]\n' 0x1f; echo " status $?"
#---
printf '[%5d]\n' '\tx' abc
#---
printf '[%-5d]\n' 42; echo " status $?"
#---
printf '[%-5d]\n' -7; echo " status $?"
#---
printf '[%-5d]\n' 3.14159; echo " status $?"
#---
printf '[%-5d]\n' hello; echo " status $?"
#---
printf '[%-5d]\n' 'a b'; echo " status $?"
#---
printf '[%-5d]\n' 0x1f; echo " status $?"
#---
printf '[%-5d]\n' '\tx' abc
#---
printf '%05d\n' 42; echo " status $?"
#---
printf '%05d\n' -7; echo " status $?"
#---
printf '%05d\n' 3.14159; echo " status $?"
#---
printf '%05d\n' hello; echo " status $?"
#---
printf '%05d\n' 'a b'; echo " status $?"
#---
printf '%05d\n' 0x1f; echo " status $?"
#---
printf '%05d\n' '\tx' abc
#---
printf '%x\n' 42; echo " status $?"
#---
printf '%x\n' -7; echo " status $?"
#---
printf '%x\n' 3.14159; echo " status $?"
#---
printf '%x\n' hello; echo " status $?"
#---
printf '%x\n' 'a b'; echo " status $?"
#---
printf '%x\n' 0x1f; echo " status $?"
#---
printf '%x\n' '\tx' abc
#---
printf '%X\n' 42; echo " status $?"
#---
printf '%X\n' -7; echo " status $?"
#---
printf '%X\n' 3.14159; echo " status $?"
#---
printf '%X\n' hello; echo " status $?"
#---
printf '%X\n' 'a b'; echo " status $?"
#---
printf '%X\n' 0x1f; echo " status $?"
#---
printf '%X\n' '\tx' abc
#---
printf '%o\n' 42; echo " status $?"
#---
printf '%o\n' -7; echo " status $?"
#---
printf '%o\n' 3.14159; echo " status $?"
#---
printf '%o\n' hello; echo " status $?"
#---
printf '%o\n' 'a b'; echo " status $?"
#---
printf '%o\n' 0x1f; echo " status $?"
#---
printf '%o\n' '\tx' abc
#---
printf '%#x\n' 42; echo " status $?"
#---
printf '%#x\n' -7; echo " status $?"
#---
printf '%#x\n' 3.14159; echo " status $?"
#---
printf '%#x\n' hello; echo " status $?"
#---
printf '%#x\n' 'a b'; echo " status $?"
#---
printf '%#x\n' 0x1f; echo " status $?"
#---
printf '%#x\n' '\tx' abc
#---
printf '%#o\n' 42; echo " status $?"
#---
printf '%#o\n' -7; echo " status $?"
#---
printf '%#o\n' 3.14159; echo " status $?"
#---
printf '%#o\n' hello; echo " status $?"
#---
printf '%#o\n' 'a b'; echo " status $?"
#---
printf '%#o\n' 0x1f; echo " status $?"
#---
printf '%#o\n' '\tx' abc
#---
printf '%e\n' 42; echo " status $?"
#---
printf '%e\n' -7; echo " status $?"
#---
printf '%e\n' 3.14159; echo " status $?"
#---
printf '%e\n' hello; echo " status $?"
#---
printf '%e\n' 'a b'; echo " status $?"
#---
printf '%e\n' 0x1f; echo " status $?"
#---
printf '%e\n' '\tx' abc
#---
printf '%.3f\n' 42; echo " status $?"
#---
printf '%.3f\n' -7; echo " status $?"
#---
printf '%.3f\n' 3.14159; echo " status $?"
#---
printf '%.3f\n' hello; echo " status $?"
#---
printf '%.3f\n' 'a b'; echo " status $?"
#---
printf '%.3f\n' 0x1f; echo " status $?"
#---
printf '%.3f\n' '\tx' abc
#---
printf '%g\n' 42; echo " status $?"
#---
printf '%g\n' -7; echo " status $?"
#---
printf '%g\n' 3.14159; echo " status $?"
#---
printf '%g\n' hello; echo " status $?"
#---
printf '%g\n' 'a b'; echo " status $?"
#---
printf '%g\n' 0x1f; echo " status $?"
#---
printf '%g\n' '\tx' abc
#---
printf '%c\n' 42; echo " status $?"
#---
printf '%c\n' -7; echo " status $?"
#---
printf '%c\n' 3.14159; echo " status $?"
#---
printf '%c\n' hello; echo " status $?"
#---
printf '%c\n' 'a b'; echo " status $?"
#---
printf '%c\n' 0x1f; echo " status $?"
#---
printf '%c\n' '\tx' abc
#---
printf '%b\n' 42; echo " status $?"
#---
printf '%b\n' -7; echo " status $?"
#---
printf '%b\n' 3.14159; echo " status $?"
#---
printf '%b\n' hello; echo " status $?"
#---
printf '%b\n' 'a b'; echo " status $?"
#---
printf '%b\n' 0x1f; echo " status $?"
#---
printf '%b\n' '\tx' abc
#---
printf '%q\n' 42; echo " status $?"
#---
printf '%q\n' -7; echo " status $?"
#---
printf '%q\n' 3.14159; echo " status $?"
#---
printf '%q\n' hello; echo " status $?"
#---
printf '%q\n' 'a b'; echo " status $?"
#---
printf '%q\n' 0x1f; echo " status $?"
#---
printf '%q\n' '\tx' abc
#---
printf '%i\n' 42; echo " status $?"
#---
printf '%i\n' -7; echo " status $?"
#---
printf '%i\n' 3.14159; echo " status $?"
#---
printf '%i\n' hello; echo " status $?"
#---
printf '%i\n' 'a b'; echo " status $?"
#---
printf '%i\n' 0x1f; echo " status $?"
#---
printf '%i\n' '\tx' abc
#---
printf '%u\n' 42; echo " status $?"
#---
printf '%u\n' -7; echo " status $?"
#---
printf '%u\n' 3.14159; echo " status $?"
#---
printf '%u\n' hello; echo " status $?"
#---
printf '%u\n' 'a b'; echo " status $?"
#---
printf '%u\n' 0x1f; echo " status $?"
#---
printf '%u\n' '\tx' abc
#---
printf '%+d\n' 42; echo " status $?"
#---
printf '%+d\n' -7; echo " status $?"
#---
printf '%+d\n' 3.14159; echo " status $?"
#---
printf '%+d\n' hello; echo " status $?"
#---
printf '%+d\n' 'a b'; echo " status $?"
#---
printf '%+d\n' 0x1f; echo " status $?"
#---
printf '%+d\n' '\tx' abc
#---
printf '[% d]\n' 42; echo " status $?"
#---
printf '[% d]\n' -7; echo " status $?"
#---
printf '[% d]\n' 3.14159; echo " status $?"
#---
printf '[% d]\n' hello; echo " status $?"
#---
printf '[% d]\n' 'a b'; echo " status $?"
#---
printf '[% d]\n' 0x1f; echo " status $?"
#---
printf '[% d]\n' '\tx' abc
#---
printf '[%10.3f]\n' 42; echo " status $?"
#---
printf '[%10.3f]\n' -7; echo " status $?"
#---
printf '[%10.3f]\n' 3.14159; echo " status $?"
#---
printf '[%10.3f]\n' hello; echo " status $?"
#---
printf '[%10.3f]\n' 'a b'; echo " status $?"
#---
printf '[%10.3f]\n' 0x1f; echo " status $?"
#---
printf '[%10.3f]\n' '\tx' abc
#---
printf '[%-10.2e]\n' 42; echo " status $?"
#---
printf '[%-10.2e]\n' -7; echo " status $?"
#---
printf '[%-10.2e]\n' 3.14159; echo " status $?"
#---
printf '[%-10.2e]\n' hello; echo " status $?"
#---
printf '[%-10.2e]\n' 'a b'; echo " status $?"
#---
printf '[%-10.2e]\n' 0x1f; echo " status $?"
#---
printf '[%-10.2e]\n' '\tx' abc
#---
printf '%s-%s\n' 42; echo " status $?"
#---
printf '%s-%s\n' -7; echo " status $?"
#---
printf '%s-%s\n' 3.14159; echo " status $?"
#---
printf '%s-%s\n' hello; echo " status $?"
#---
printf '%s-%s\n' 'a b'; echo " status $?"
#---
printf '%s-%s\n' 0x1f; echo " status $?"
#---
printf '%s-%s\n' '\tx' abc
#---
printf '%.0f\n' 42; echo " status $?"
#---
printf '%.0f\n' -7; echo " status $?"
#---
printf '%.0f\n' 3.14159; echo " status $?"
#---
printf '%.0f\n' hello; echo " status $?"
#---
printf '%.0f\n' 'a b'; echo " status $?"
#---
printf '%.0f\n' 0x1f; echo " status $?"
#---
printf '%.0f\n' '\tx' abc
#---
printf '%5.1s|\n' 42; echo " status $?"
#---
printf '%5.1s|\n' -7; echo " status $?"
#---
printf '%5.1s|\n' 3.14159; echo " status $?"
#---
printf '%5.1s|\n' hello; echo " status $?"
#---
printf '%5.1s|\n' 'a b'; echo " status $?"
#---
printf '%5.1s|\n' 0x1f; echo " status $?"
#---
printf '%5.1s|\n' '\tx' abc
#---
printf '%*d\n' 6 42; echo " status $?"
#---
printf '%*d\n' 4 ab; echo " status $?"
#---
printf '%*d\n' '\tx' abc
#---
printf '%-*s|\n' 6 42; echo " status $?"
#---
printf '%-*s|\n' 4 ab; echo " status $?"
#---
printf '%-*s|\n' '\tx' abc
#---
printf -v x '%03d' 7; echo "$x"
#---
printf '%s\n' a b c d
#---
printf '%s %s\n' a b c
#---
printf '%%\n'
#---
printf '%(%Y)T\n' 0 | wc -c
#---
printf 'no newline'
#---
printf '\x41\101\u00e9\n'
#---
printf '%q\n' 'a b' '$x' "it's"
#---
printf '%d\n' "'A"
#---
printf '%s\n'
#---
printf
#---
printf '%z\n' 1
#---
printf '%d %d\n' 1
#---
printf -- '-%s\n' x
#---
printf '%b\n' 'a\nb' 'c\c' 'd'
#---
printf '%5%|\n'
#---
printf '%s\0' a b | od -c | head -2
