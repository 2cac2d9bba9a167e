/* Links zlib and OpenSSL from a sysroot and prints both versions, plus a checksum
   that only a working zlib computes. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <zlib.h>

int main(void) {
    const char *text = "xbuild";
    unsigned long crc = crc32(0L, (const unsigned char *)text, (unsigned)strlen(text));
    printf("zlib %s crc32=%08lx\n%s\n", zlibVersion(), crc, OpenSSL_version(OPENSSL_VERSION));
    return 0;
}
