/* Calls getrandom(), which glibc only has since 2.25: built for a 2.28 floor, it must
   fail an audit against the 2.17 policy. */
#include <stdio.h>
#include <sys/random.h>

int main(void) {
    unsigned char b[4];
    return getrandom(b, sizeof b, 0) == 4 ? 0 : 1;
}
