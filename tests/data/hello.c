/* Prints its pointer width and echoes its first argument: enough to show the
   binary ran on the right CPU and got its argv. */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("hello from a %d-bit program, arg=%s\n", (int)(sizeof(void *) * 8), argc > 1 ? argv[1] : "-");
    return 0;
}
