# Sum of squares with C integers, and the width of a C long on the machine it was built for.
def sum_squares(long n):
    cdef long long total = 0
    cdef long i
    for i in range(n):
        total += i * i
    return total


def long_bits():
    return sizeof(long) * 8
