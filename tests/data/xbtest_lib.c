/* A library that is neither a system library nor shipped: depending on it is a violation. */
#ifdef _WIN32
__declspec(dllexport)
#endif
int xbtest_answer(void) { return 42; }
