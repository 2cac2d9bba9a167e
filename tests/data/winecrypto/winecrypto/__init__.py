"""Generate an Ed25519 key, sign a message given on the command line and verify it.

Key generation draws random bytes through Rust's std (ProcessPrng on Windows), and
the extension module is `cryptography.hazmat.bindings._rust`.
"""

import sys


def main() -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    message = " ".join(sys.argv[1:]).encode()
    key = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    signature = key.sign(message)
    public = key.public_key()
    public.verify(signature, message)
    try:
        public.verify(signature, message + b"!")
        tampered = "accepted"
    except InvalidSignature:
        tampered = "rejected"
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    distinct = raw != other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    print(f"signed {len(message)} bytes: signature {len(signature)} bytes, verified, tampered {tampered}")
    print(f"public key {len(raw)} bytes, keys distinct: {distinct}")
    if sys.platform == "win32":
        print("windows version {}.{}".format(*_windows_version()))


def _windows_version() -> tuple[int, int]:
    """The version Windows (or wine) reports as itself: RtlGetVersion, which unlike
    GetVersionEx does not depend on the program's compatibility manifest."""
    import ctypes

    class OSVERSIONINFOW(ctypes.Structure):
        _fields_ = [
            ("size", ctypes.c_ulong),
            ("major", ctypes.c_ulong),
            ("minor", ctypes.c_ulong),
            ("build", ctypes.c_ulong),
            ("platform", ctypes.c_ulong),
            ("csd", ctypes.c_wchar * 128),
        ]

    info = OSVERSIONINFOW()
    info.size = ctypes.sizeof(info)
    ctypes.windll.ntdll.RtlGetVersion(ctypes.byref(info))
    return info.major, info.minor
