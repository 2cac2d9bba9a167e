#include <stdio.h>
#ifdef _WIN32
__declspec(dllimport)
#endif
int xbtest_answer(void);
int main(void) { printf("%d\n", xbtest_answer()); return 0; }
