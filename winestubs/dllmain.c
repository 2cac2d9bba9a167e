/* Entry point shared by the stand-in DLLs. They link without a C runtime (-nostdlib):
 * a CRT would import from ucrtbase, which one of them replaces, so there is nothing to
 * initialise and attaching always succeeds. */

typedef int BOOL;

BOOL __stdcall DllMainCRTStartup(void *instance, unsigned long reason, void *reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return 1;
}
