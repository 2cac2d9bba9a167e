/* fficonfig.h for Linux (glibc and musl), written for xbuild in place of libffi's
   configure: Debian's libffi orig tarball ships configure.ac but no configure, and
   these answers are what that script finds on Linux with clang (zig cc). */
#define PACKAGE "libffi"
#define PACKAGE_NAME "libffi"
#define STDC_HEADERS 1
#define HAVE_ALLOCA_H 1
#define HAVE_DLFCN_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_STDINT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRING_H 1
#define HAVE_UNISTD_H 1
#define HAVE_SYS_MMAN_H 1
#define HAVE_MEMCPY 1
#define HAVE_MKOSTEMP 1
#define HAVE_MMAP 1
#define HAVE_MMAP_ANON 1
#define HAVE_MMAP_DEV_ZERO 1
#define HAVE_MMAP_FILE 1
#define HAVE_MNTENT 1
#define HAVE_AS_CFI_PSEUDO_OP 1
#define HAVE_RO_EH_FRAME 1
#define EH_FRAME_FLAGS "a"
#define HAVE_HIDDEN_VISIBILITY_ATTRIBUTE 1
#define FFI_EXEC_STATIC_TRAMP 1
#define SIZEOF_DOUBLE 8
#define SIZEOF_LONG_DOUBLE __SIZEOF_LONG_DOUBLE__
#define SIZEOF_SIZE_T __SIZEOF_SIZE_T__
#if __SIZEOF_LONG_DOUBLE__ > 8
#define HAVE_LONG_DOUBLE 1
#endif
#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AS_X86_PCREL 1
#endif
#if defined(__x86_64__)
#define HAVE_AS_X86_64_UNWIND_SECTION_TYPE 1
#endif
#if defined(__s390x__)
#define HAVE_AS_S390_ZARCH 1
#endif
#if defined(__powerpc64__) && defined(__LONG_DOUBLE_128__)
#define HAVE_LONG_DOUBLE_VARIANT 1
#endif

#ifdef HAVE_HIDDEN_VISIBILITY_ATTRIBUTE
#ifdef LIBFFI_ASM
#define FFI_HIDDEN(name) .hidden name
#else
#define FFI_HIDDEN __attribute__ ((visibility ("hidden")))
#endif
#else
#ifdef LIBFFI_ASM
#define FFI_HIDDEN(name)
#else
#define FFI_HIDDEN
#endif
#endif
