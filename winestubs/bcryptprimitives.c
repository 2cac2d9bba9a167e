/* bcryptprimitives.dll for wine 8, which has none: ProcessPrng, the entry point Rust's
 * std (1.78+) uses for random bytes on Windows 10+. It fills the buffer through
 * advapi32's SystemFunction036 (RtlGenRandom), which wine implements with the host's
 * random source. */

typedef int BOOL;
typedef unsigned char BOOLEAN;
typedef unsigned long ULONG;
typedef unsigned long long SIZE_T;

__declspec(dllimport) BOOLEAN __stdcall SystemFunction036(void *buffer, ULONG length);

/* Never fails, as documented: Windows terminates the process rather than return FALSE. */
BOOL __stdcall xb_ProcessPrng(unsigned char *data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000u ? 0x40000000u : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            __builtin_trap();
        data += chunk;
        length -= chunk;
    }
    return 1;
}
