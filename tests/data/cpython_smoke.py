"""Run inside a from-source runtime: exercise every C library it links and print facts as JSON."""

import bz2
import ctypes
import curses
import decimal
import hashlib
import json
import lzma
import math
import os
import readline
import sqlite3
import ssl
import sys
import sysconfig
import uuid
import zlib
from xml.parsers import expat

facts = {"version": sys.version.split()[0], "openssl": ssl.OPENSSL_VERSION}
con = sqlite3.connect(":memory:")
con.execute("create virtual table docs using fts5(body)")
con.execute("insert into docs values ('hermetic runtimes built by zig')")
facts["sqlite"] = [sqlite3.sqlite_version, con.execute("select count(*) from docs where docs match 'zig'").fetchone()[0]]

# A ctypes callback called through libffi (a closure and a call, no dlopen needed).
CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int)
closure = CALLBACK(lambda a, b: a * 10 + b)
facts["ctypes_callback"] = CALLBACK(ctypes.cast(closure, ctypes.c_void_p).value)(4, 2)
if sysconfig.get_config_var("Py_ENABLE_SHARED"):
    libc = ctypes.CDLL("libc.so.6")
    values = (ctypes.c_int * 5)(5, 1, 4, 2, 3)
    compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
    libc.qsort(values, 5, ctypes.sizeof(ctypes.c_int), compare(lambda a, b: a[0] - b[0]))
    facts["qsort"] = list(values)

data = b"xbuild " * 1000
facts["compression"] = [lzma.decompress(lzma.compress(data)) == data, bz2.decompress(bz2.compress(data)) == data, zlib.decompress(zlib.compress(data)) == data]
facts["decimal"] = [str(decimal.Decimal(1) / decimal.Decimal(7)), decimal.__libmpdec_version__]
facts["sha3_256"] = hashlib.sha3_256(b"").hexdigest()
facts["uuid"] = [uuid.uuid1().version, uuid.uuid4().version, uuid._uuid is not None if hasattr(uuid, "_uuid") else False]
facts["json"] = json.loads(json.dumps({"a": [1, 2.5, None]}))
facts["expat"] = expat.EXPAT_VERSION
facts["readline"] = getattr(readline, "backend", "?")
curses.setupterm(os.environ.get("TERM", "xterm"), sys.stdout.fileno())
facts["terminfo_clear"] = curses.tigetstr("clear") is not None
facts["log2"] = math.log2(math.ldexp(1.0, -1065))
facts["computed_gotos"] = sysconfig.get_config_var("HAVE_COMPUTED_GOTOS")
config = __import__(sysconfig._get_sysconfigdata_name()).build_time_vars  # what the build recorded
facts["cc"] = config.get("CC")
facts["build_paths"] = sorted(k for k, v in config.items() if isinstance(v, str) and any(p in v for p in ("/xbuild/tmp/", "cpython-deps", "cpython-host")))
facts["builtin_modules"] = len(sys.builtin_module_names)
print(json.dumps(facts))
