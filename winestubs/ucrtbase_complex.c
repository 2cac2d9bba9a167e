/* The C99 complex functions of the UCRT (<complex.h>), which wine 8's ucrtbase exports
 * only as stubs that abort the process ("unimplemented function ucrtbase.dll.crealf").
 * numpy's extension modules import them (crealf is called while numpy is imported).
 *
 * Built into xbuild's stand-in ucrtbase.dll, which forwards every other export to a
 * renamed copy of wine's own ucrtbase (see README.md). The real-valued functions used
 * here (exp, sin, atan2, ...) are imported from that copy, which implements them.
 *
 * ABI: MSVC's _Dcomplex, _Fcomplex and _Lcomplex are structs of two doubles, two
 * floats and two long doubles, and MSVC's long double is a double. The structs below
 * have the same size and layout, so the x64 calling convention treats them the same
 * way (16 bytes: passed and returned through memory; 8 bytes: in a register). Every
 * `...l` function is therefore the `double` one, and the `float` ones compute in
 * double and round once.
 *
 * The formulas follow W. Kahan, "Branch Cuts for Complex Elementary Functions" (1987),
 * and C99 Annex G for infinities and zeros where that is cheap to honour.
 */

typedef struct {
    double val[2];
} dcomplex; /* _Dcomplex, and _Lcomplex */

typedef struct {
    float val[2];
} fcomplex; /* _Fcomplex */

double exp(double);
double log(double);
double log1p(double);
double sin(double);
double cos(double);
double tan(double);
double sinh(double);
double cosh(double);
double tanh(double);
double asinh(double);
double atan(double);
double atan2(double, double);
double hypot(double, double);
double sqrt(double);

#define INF __builtin_inf()
#define PI_2 1.57079632679489661923
#define LN2 0.69314718055994530942
#define LN10 2.30258509299404568402
#define isnan_(x) __builtin_isnan(x)
#define isinf_(x) __builtin_isinf(x)
#define isfinite_(x) __builtin_isfinite(x)
#define fabs_(x) __builtin_fabs(x)
#define copysign_(x, y) __builtin_copysign(x, y)

static dcomplex mk(double re, double im)
{
    dcomplex z;
    z.val[0] = re;
    z.val[1] = im;
    return z;
}

static fcomplex mkf(float re, float im)
{
    fcomplex z;
    z.val[0] = re;
    z.val[1] = im;
    return z;
}

static dcomplex widen(fcomplex z) { return mk(z.val[0], z.val[1]); }
static fcomplex narrow(dcomplex z) { return mkf((float)z.val[0], (float)z.val[1]); }

/* -i * f(i*z): how sin, tan, asin and atan follow from sinh, tanh, asinh and atanh. */
#define ROTATED(f, x, y) rotate_back(f(-(y), (x)))
static dcomplex rotate_back(dcomplex w) { return mk(w.val[1], -w.val[0]); }

static dcomplex exp_d(double x, double y)
{
    if (y == 0 && !isnan_(x))
        return mk(exp(x), y);
    if (isinf_(x)) {
        if (x < 0)
            return isfinite_(y) ? mk(0.0 * cos(y), 0.0 * sin(y)) : mk(0.0, 0.0);
        if (!isfinite_(y))
            return mk(x, y - y);
    }
    if (x > 700) { /* exp(x) alone would overflow where the product need not */
        double half = exp(x * 0.5);
        return mk(half * cos(y) * half, half * sin(y) * half);
    }
    double r = exp(x);
    return mk(r * cos(y), r * sin(y));
}

static dcomplex log_d(double x, double y)
{
    double ax = fabs_(x), ay = fabs_(y);
    if (ax < ay) {
        double t = ax;
        ax = ay;
        ay = t;
    }
    double re;
    if (ax > 0.5 && ax < 2.0 && ay < 1e-3 * ax + 1.0) /* |z| near 1: log1p keeps the digits */
        re = 0.5 * log1p((ax - 1.0) * (ax + 1.0) + ay * ay);
    else
        re = log(hypot(ax, ay));
    return mk(re, atan2(y, x));
}

static dcomplex sqrt_d(double x, double y)
{
    if (isinf_(y))
        return mk(INF, y);
    if (isnan_(x))
        return mk(x, y - y + x);
    if (isinf_(x)) {
        if (x > 0)
            return mk(x, isnan_(y) ? y : copysign_(0.0, y));
        return mk(isnan_(y) ? y : 0.0, copysign_(INF, y));
    }
    if (x == 0 && y == 0)
        return mk(0.0, y);
    if (fabs_(x) > 1e300 || fabs_(y) > 1e300) { /* scale so that |x| + |z| cannot overflow */
        dcomplex w = sqrt_d(x * 0.25, y * 0.25);
        return mk(w.val[0] * 2.0, w.val[1] * 2.0);
    }
    double t = sqrt((fabs_(x) + hypot(x, y)) * 0.5);
    if (x >= 0)
        return mk(t, y / (2.0 * t));
    return mk(fabs_(y) / (2.0 * t), copysign_(t, y));
}

static dcomplex mul_d(dcomplex a, dcomplex b)
{
    return mk(a.val[0] * b.val[0] - a.val[1] * b.val[1], a.val[0] * b.val[1] + a.val[1] * b.val[0]);
}

static dcomplex sinh_d(double x, double y)
{
    if (y == 0)
        return mk(sinh(x), y);
    if (x == 0)
        return mk(x, sin(y));
    return mk(sinh(x) * cos(y), cosh(x) * sin(y));
}

static dcomplex cosh_d(double x, double y)
{
    if (y == 0)
        return mk(cosh(x), copysign_(0.0, x) * y);
    if (x == 0)
        return mk(cos(y), isfinite_(y) ? x * sin(y) : x);
    return mk(cosh(x) * cos(y), sinh(x) * sin(y));
}

static dcomplex tanh_d(double x, double y)
{
    if (isinf_(x))
        return mk(copysign_(1.0, x), isfinite_(y) ? copysign_(0.0, sin(2.0 * y)) : copysign_(0.0, y));
    if (y == 0)
        return mk(tanh(x), y);
    if (fabs_(x) > 22) { /* tanh(x) is +-1 in double; the imaginary part decays like e^-2|x| */
        double e = exp(-fabs_(x));
        return mk(copysign_(1.0, x), 4.0 * sin(y) * cos(y) * e * e);
    }
    double t = tan(y);
    double beta = 1.0 + t * t;
    double s = sinh(x);
    double rho = sqrt(1.0 + s * s);
    double denom = 1.0 + beta * s * s;
    return mk(beta * rho * s / denom, t / denom);
}

static dcomplex asinh_d(double x, double y);

/* Kahan's formulas: no cancellation near the branch points, correct sides of the cuts. */
static dcomplex asin_d(double x, double y)
{
    if (isinf_(x) || isinf_(y) || fabs_(x) > 1e150 || fabs_(y) > 1e150)
        return ROTATED(asinh_d, x, y);
    dcomplex s1m = sqrt_d(1.0 - x, -y); /* sqrt(1 - z) */
    dcomplex s1p = sqrt_d(1.0 + x, y);  /* sqrt(1 + z) */
    double re = atan2(x, s1m.val[0] * s1p.val[0] - s1m.val[1] * s1p.val[1]);
    double im = asinh(s1m.val[0] * s1p.val[1] - s1m.val[1] * s1p.val[0]);
    return mk(re, im);
}

static dcomplex asinh_d(double x, double y)
{
    if (isinf_(x) || isinf_(y) || fabs_(x) > 1e150 || fabs_(y) > 1e150) {
        /* asinh(z) = log(2z) + O(1/z^2), odd in z */
        int negative = x < 0 || (x == 0 && __builtin_signbit(x));
        dcomplex w = log_d(fabs_(x), negative ? -y : y);
        w.val[0] += isfinite_(w.val[0]) ? LN2 : 0.0;
        return negative ? mk(-w.val[0], -w.val[1]) : w;
    }
    dcomplex w = asin_d(-y, x); /* asinh(z) = -i asin(iz) */
    return rotate_back(w);
}

static dcomplex acos_d(double x, double y)
{
    if (isinf_(x) || isinf_(y) || fabs_(x) > 1e150 || fabs_(y) > 1e150) {
        dcomplex a = asin_d(x, y); /* acos(z) = pi/2 - asin(z) */
        return mk(PI_2 - a.val[0], -a.val[1]);
    }
    dcomplex s1m = sqrt_d(1.0 - x, -y);
    dcomplex s1p = sqrt_d(1.0 + x, y);
    double re = 2.0 * atan2(s1m.val[0], s1p.val[0]);
    double im = asinh(s1p.val[0] * s1m.val[1] - s1p.val[1] * s1m.val[0]);
    return mk(re, im);
}

static dcomplex acosh_d(double x, double y)
{
    if (isinf_(x) || isinf_(y) || fabs_(x) > 1e150 || fabs_(y) > 1e150) {
        dcomplex w = log_d(x, y); /* acosh(z) = log(2z) + O(1/z^2) */
        w.val[0] += isfinite_(w.val[0]) ? LN2 : 0.0;
        return w;
    }
    dcomplex sm = sqrt_d(x - 1.0, y); /* sqrt(z - 1) */
    dcomplex sp = sqrt_d(x + 1.0, y); /* sqrt(z + 1) */
    double re = asinh(sm.val[0] * sp.val[0] + sm.val[1] * sp.val[1]);
    double im = 2.0 * atan2(sm.val[1], sp.val[0]);
    return mk(re, im);
}

static dcomplex atanh_d(double x, double y)
{
    if (isinf_(x) || isinf_(y))
        return mk(copysign_(0.0, x), copysign_(PI_2, y));
    if (isnan_(x) || isnan_(y))
        return mk(x + y, x + y);
    if (__builtin_signbit(x)) { /* odd: computing for |x| keeps log1p's argument away from -1 */
        dcomplex w = atanh_d(-x, -y);
        return mk(-w.val[0], -w.val[1]);
    }
    double one_minus = 1.0 - x;
    double re = 0.25 * log1p(4.0 * x / (one_minus * one_minus + y * y));
    double im = 0.5 * atan2(2.0 * y, one_minus * (1.0 + x) - y * y);
    return mk(re, im);
}

static dcomplex pow_d(dcomplex a, dcomplex b)
{
    if (b.val[0] == 0 && b.val[1] == 0)
        return mk(1.0, 0.0);
    if (a.val[0] == 0 && a.val[1] == 0) {
        if (b.val[1] == 0 && b.val[0] > 0)
            return mk(0.0, 0.0);
    }
    dcomplex l = log_d(a.val[0], a.val[1]);
    dcomplex w = mul_d(b, l);
    return exp_d(w.val[0], w.val[1]);
}

static dcomplex proj_d(double x, double y)
{
    if (isinf_(x) || isinf_(y))
        return mk(INF, copysign_(0.0, y));
    return mk(x, y);
}

static dcomplex log10_d(double x, double y)
{
    dcomplex w = log_d(x, y);
    return mk(w.val[0] / LN10, w.val[1] / LN10);
}

/* --- the exported functions: double, long double (same ABI) and float --------------- */

#define ONE_ARG(name, impl)                                                                      \
    dcomplex xb_##name(dcomplex z) { return impl(z.val[0], z.val[1]); }                        \
    dcomplex xb_##name##l(dcomplex z) { return impl(z.val[0], z.val[1]); }                     \
    fcomplex xb_##name##f(fcomplex z) { return narrow(impl((double)z.val[0], (double)z.val[1])); }

static dcomplex sin_d(double x, double y) { return ROTATED(sinh_d, x, y); }
static dcomplex cos_d(double x, double y) { return cosh_d(-y, x); }
static dcomplex tan_d(double x, double y) { return ROTATED(tanh_d, x, y); }
static dcomplex atan_d(double x, double y) { return ROTATED(atanh_d, x, y); }
static dcomplex conj_d(double x, double y) { return mk(x, -y); }

ONE_ARG(cexp, exp_d)
ONE_ARG(clog, log_d)
ONE_ARG(clog10, log10_d)
ONE_ARG(csqrt, sqrt_d)
ONE_ARG(csin, sin_d)
ONE_ARG(ccos, cos_d)
ONE_ARG(ctan, tan_d)
ONE_ARG(csinh, sinh_d)
ONE_ARG(ccosh, cosh_d)
ONE_ARG(ctanh, tanh_d)
ONE_ARG(casin, asin_d)
ONE_ARG(cacos, acos_d)
ONE_ARG(catan, atan_d)
ONE_ARG(casinh, asinh_d)
ONE_ARG(cacosh, acosh_d)
ONE_ARG(catanh, atanh_d)
ONE_ARG(conj, conj_d)
ONE_ARG(cproj, proj_d)

#define TO_REAL(name, expr)                                                                      \
    double xb_##name(dcomplex z) { double x = z.val[0], y = z.val[1]; return (expr); }         \
    double xb_##name##l(dcomplex z) { double x = z.val[0], y = z.val[1]; return (expr); }      \
    float xb_##name##f(fcomplex w) { double x = w.val[0], y = w.val[1]; return (float)(expr); }

TO_REAL(creal, ((void)y, x))
TO_REAL(cimag, ((void)x, y))
TO_REAL(cabs, hypot(x, y))
TO_REAL(carg, atan2(y, x))
TO_REAL(norm, x * x + y * y)

dcomplex xb_cpow(dcomplex a, dcomplex b) { return pow_d(a, b); }
dcomplex xb_cpowl(dcomplex a, dcomplex b) { return pow_d(a, b); }
fcomplex xb_cpowf(fcomplex a, fcomplex b) { return narrow(pow_d(widen(a), widen(b))); }

/* Microsoft's helpers for building and multiplying complex values without C99 syntax. */
dcomplex xb__Cmulcc(dcomplex a, dcomplex b) { return mul_d(a, b); }
dcomplex xb__Cmulcr(dcomplex a, double r) { return mk(a.val[0] * r, a.val[1] * r); }
dcomplex xb__LCbuild(double re, double im) { return mk(re, im); }
dcomplex xb__LCmulcc(dcomplex a, dcomplex b) { return mul_d(a, b); }
dcomplex xb__LCmulcr(dcomplex a, double r) { return mk(a.val[0] * r, a.val[1] * r); }
fcomplex xb__FCbuild(float re, float im) { return mkf(re, im); }
fcomplex xb__FCmulcc(fcomplex a, fcomplex b)
{
    return mkf(a.val[0] * b.val[0] - a.val[1] * b.val[1], a.val[0] * b.val[1] + a.val[1] * b.val[0]);
}
fcomplex xb__FCmulcr(fcomplex a, float r) { return mkf(a.val[0] * r, a.val[1] * r); }

/* Called by the CRT's parameter checks (numpy imports it); wine 8 has a stub. Windows
 * ends the process with STATUS_INVALID_CRUNTIME_PARAMETER; so does this. */
__declspec(dllimport) void *__stdcall GetCurrentProcess(void);
__declspec(dllimport) int __stdcall TerminateProcess(void *process, unsigned int code);

void xb__invoke_watson(const void *expression, const void *function, const void *file, unsigned int line,
                       unsigned long long reserved)
{
    (void)expression;
    (void)function;
    (void)file;
    (void)line;
    (void)reserved;
    TerminateProcess(GetCurrentProcess(), 0xC0000417u);
    __builtin_unreachable();
}
