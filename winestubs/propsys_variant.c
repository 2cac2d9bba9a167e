/* VariantToString for wine 8, whose propsys.dll exports it as a stub that aborts the
 * process ("unimplemented function propsys.dll.VariantToString"). CPython 3.12+ calls
 * it from its _wmi module, which platform.platform() uses on Windows.
 *
 * Built into xbuild's stand-in propsys.dll; every other export forwards to a renamed
 * copy of wine's own propsys (see README.md). */

/* No <windows.h>: the stand-ins build without libc headers (-nostdlib). These are the
 * documented x64 layouts. */
typedef long HRESULT;
typedef unsigned int UINT;
typedef unsigned short WCHAR;
typedef unsigned short VARTYPE;
typedef WCHAR *BSTR;

typedef struct {
    VARTYPE vt;
    unsigned short reserved1, reserved2, reserved3;
    union {
        BSTR bstrVal;
        long long llVal;
        struct {
            void *pvRecord;
            void *pRecInfo;
        } record; /* the largest member: VARIANT is 24 bytes */
    } u;
} VARIANT;

_Static_assert(sizeof(VARIANT) == 24, "VARIANT is 24 bytes on x64");

#define VT_BSTR 8
#define S_OK ((HRESULT)0)
#define E_INVALIDARG ((HRESULT)0x80070057L)
#define STRSAFE_E_INSUFFICIENT_BUFFER ((HRESULT)0x8007007AL)

__declspec(dllimport) void __stdcall VariantInit(VARIANT *var);
__declspec(dllimport) HRESULT __stdcall VariantClear(VARIANT *var);
__declspec(dllimport) HRESULT __stdcall VariantChangeType(VARIANT *dest, const VARIANT *src, unsigned short flags, VARTYPE vt);
__declspec(dllimport) UINT __stdcall SysStringLen(BSTR text);

/* The value as text (VariantChangeType to VT_BSTR, as Windows does), copied into buf
 * of cch characters; truncated and terminated with STRSAFE_E_INSUFFICIENT_BUFFER when
 * it does not fit. */
HRESULT __stdcall xb_VariantToString(const VARIANT *var, WCHAR *buf, UINT cch)
{
    VARIANT text;
    const WCHAR *source;
    UINT length, i;
    HRESULT hr;

    if (!buf || cch == 0)
        return E_INVALIDARG;
    buf[0] = 0;
    VariantInit(&text);
    if (var->vt == VT_BSTR) {
        source = var->u.bstrVal;
    } else {
        hr = VariantChangeType(&text, var, 0, VT_BSTR);
        if (hr < 0)
            return hr;
        source = text.u.bstrVal;
    }
    length = source ? SysStringLen((BSTR)source) : 0;
    hr = S_OK;
    if (length >= cch) {
        length = cch - 1;
        hr = STRSAFE_E_INSUFFICIENT_BUFFER;
    }
    for (i = 0; i < length; i++)
        buf[i] = source[i];
    buf[length] = 0;
    VariantClear(&text);
    return hr;
}
