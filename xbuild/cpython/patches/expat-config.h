/* expat_config.h for Linux (glibc and musl), written for xbuild: Debian's expat orig
   tarball is the git tree (CMake and configure.ac, no generated configure). These are
   the answers CMake finds on Linux for a glibc 2.17 floor: no getrandom()/getentropy()
   wrappers (glibc 2.25), the getrandom system call and /dev/urandom instead. */
#ifndef EXPAT_CONFIG_H
#define EXPAT_CONFIG_H 1
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BYTEORDER 4321
#define WORDS_BIGENDIAN 1
#else
#define BYTEORDER 1234
#endif
#define HAVE_DLFCN_H 1
#define HAVE_FCNTL_H 1
#define HAVE_GETPAGESIZE 1
#define HAVE_INTTYPES_H 1
#define HAVE_MEMORY_H 1
#define HAVE_MMAP 1
#define HAVE_STDINT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRINGS_H 1
#define HAVE_STRING_H 1
#define HAVE_SYSCALL_GETRANDOM 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_UNISTD_H 1
#define PACKAGE "expat"
#define PACKAGE_NAME "expat"
#define PACKAGE_URL ""
#ifndef STDC_HEADERS
#define STDC_HEADERS 1
#endif
#define XML_CONTEXT_BYTES 1024
#define XML_DEV_URANDOM 1
#define XML_DTD 1
#define XML_GE 1
#define XML_NS 1
#endif
