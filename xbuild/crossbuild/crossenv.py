"""The cross environment for one (target, runtime): what a build backend sees instead of this host.

A host Python of the runtime's minor version runs the backend, with

- the target's sysconfig data: on Unix the runtime's own `_sysconfigdata_*.py` with its
  prefix rewritten to the runtime's folder; for Windows a synthetic one (`.pyd`
  suffix, the runtime's `include/`), since a Windows runtime has none;
- `_PYTHON_HOST_PLATFORM` (wheel platform tag), `_PYTHON_SYSCONFIGDATA_NAME`, and an
  interpreter patch (`cross_patch.py.in`, loaded by a .pth) for `os.uname`,
  `sys.implementation._multiarch` and the extension suffixes;
- compilers: xbuild's zig wrappers for the target (cc, c++, ar, ranlib) as CC, CXX,
  LDSHARED, AR, which also drop host-only flags (`-I/usr/include`, `-march=`, `-Wp,`)
  and, for Windows, define MS_WIN64 and link the runtime's `libs/python3XY.lib`;
- a CMake toolchain file (scikit-build-core) and a Meson cross file (meson-python);
- Windows: SETUPTOOLS_EXT_SUFFIX and a DIST_EXTRA_CONFIG with plat_name, because
  setuptools takes both from the running interpreter otherwise.
"""

from __future__ import annotations

import ast
import json
import pprint
import shlex
from dataclasses import dataclass
from pathlib import Path

from xbuild import cache as xcache
from xbuild.crossbuild.libs import TargetLibs
from xbuild.errors import BuildError
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import Zig, pin

SYSCONFIG_NAME = "_sysconfigdata__xbuild_cross"
PATCH_MODULE = "_xbuild_cross"
CONFIG_VAR = "XBUILD_CROSS_CONFIG"
# Flags every extension compile gets: optimized, no debug info (zig's default keeps it).
_CFLAGS = "-DNDEBUG -fwrapv -O2 -Wall -g0"
# Meson/CMake names for the target CPUs, by targets.toml `machine`.
_CPU_FAMILY = {"x86_64": "x86_64", "aarch64": "aarch64", "arm": "arm", "ppc64le": "ppc64", "s390x": "s390x", "riscv64": "riscv64", "i686": "x86"}
_BIG_ENDIAN = {"s390x", "ppc64"}


@dataclass(frozen=True)
class CrossEnv:
    """A written cross environment: the variables a backend runs with and the files they name."""

    root: Path
    env: dict[str, str]  # added to the build's environment (cross patch on)
    site_files: dict[str, str]  # file name -> text, for the host venv's site-packages
    meson_cross_file: Path
    cmake_toolchain: Path
    platform_tag: str  # what bdist_wheel writes (linux_aarch64, win_amd64): retagged after the audit


def host_platform(target: Target) -> str:
    """`sysconfig.get_platform()` of the target, as wheel tags derive from it."""
    if target.os == "windows":
        return {"x86_64": "win-amd64", "aarch64": "win-arm64", "i686": "win32"}[target.machine]
    if target.os == "macos":
        return f"macosx-{target.floor or '11.0'}-{target.wheel_arch}"
    return f"linux-{target.wheel_arch}"


def _read_sysconfigdata(runtime: Runtime) -> tuple[dict[str, object], str]:
    stdlib = runtime.path(runtime.stdlib)
    candidates = sorted(stdlib.glob("_sysconfigdata_*.py"), key=lambda p: ("_linux_" not in p.name, p.name))
    for path in candidates:
        tree = ast.parse(path.read_text(errors="replace"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "build_time_vars" for t in node.targets):
                values = ast.literal_eval(node.value)
                if isinstance(values, dict):
                    return values, path.name
    raise BuildError(f"the {runtime.triple} runtime at {runtime.root} has no _sysconfigdata_*.py: cross builds need the target's sysconfig data")


def _unix_vars(runtime: Runtime, tools: dict[str, str]) -> dict[str, object]:
    """The runtime's sysconfig data with its prefix moved to the runtime's folder and zig as the compiler."""
    values, _ = _read_sysconfigdata(runtime)
    old = str(values.get("prefix") or "/usr").rstrip("/") or "/usr"
    root = str(runtime.root)
    moved: dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, str) and (value == old or value.startswith(old + "/")):
            value = root + value[len(old) :]
        moved[key] = value
    include = str(runtime.path(runtime.include))
    moved.update(_compiler_vars(tools))
    moved.update({"INCLUDEPY": include, "CONFINCLUDEPY": include, "LIBDIR": str(runtime.root / "lib"), "EXT_SUFFIX": runtime.ext_suffix})
    return moved


def _compiler_vars(tools: dict[str, str]) -> dict[str, object]:
    cc, cxx = tools["cc"], tools["c++"]
    return {
        "CC": cc, "CXX": cxx, "LDSHARED": f"{cc} -shared", "BLDSHARED": f"{cc} -shared", "LDCXXSHARED": f"{cxx} -shared",
        "AR": tools["ar"], "ARFLAGS": "rcs", "RANLIB": tools["ranlib"], "CCSHARED": "-fPIC",
        "CFLAGS": _CFLAGS, "OPT": _CFLAGS, "CFLAGS_NODIST": "", "CONFIGURE_CFLAGS": "", "CONFIGURE_CFLAGS_NODIST": "",
        "CONFIGURE_CPPFLAGS": "", "CONFIGURE_LDFLAGS": "", "CONFIGURE_LDFLAGS_NODIST": "", "LDFLAGS": "", "LDFLAGS_NODIST": "",
        "CPPFLAGS": "", "PY_CFLAGS": _CFLAGS, "PY_CFLAGS_NODIST": "", "PY_CPPFLAGS": "", "PY_LDFLAGS": "", "PY_LDFLAGS_NODIST": "",
        "PY_CORE_CFLAGS": _CFLAGS, "PY_STDMODULE_CFLAGS": _CFLAGS,
        "ANDROID_API_LEVEL": 0,  # setuptools links libpython when cross-compiling unless this is 0
    }  # fmt: skip


def _windows_vars(runtime: Runtime, tools: dict[str, str]) -> dict[str, object]:
    """A POSIX-shaped sysconfig for a Windows runtime, which ships none."""
    nodot = "".join(runtime.minor.split("."))
    include = str(runtime.path(runtime.include))
    return {
        **_compiler_vars(tools),
        "prefix": str(runtime.root), "exec_prefix": str(runtime.root), "INCLUDEPY": include, "CONFINCLUDEPY": include,
        "LIBDIR": str(runtime.root / "libs"), "EXT_SUFFIX": runtime.ext_suffix, "SHLIB_SUFFIX": ".pyd",
        "SOABI": runtime.ext_suffix.split(".")[1], "VERSION": runtime.minor, "py_version_nodot": nodot,
        "Py_ENABLE_SHARED": 0, "ANDROID_API_LEVEL": 0, "Py_DEBUG": 0, "Py_GIL_DISABLED": 0, "ABIFLAGS": "", "MULTIARCH": "", "CCSHARED": "",
        "LIBRARY": f"python{nodot}.lib", "LDLIBRARY": f"python{nodot}.dll", "WITH_DOC_STRINGS": 1,
    }  # fmt: skip


def _wrapper(zig: Zig, argv: list[str], *, compile_flags: list[str], link_flags: list[str]) -> str:
    """A sh script that runs zig with the target pinned and host-only flags removed.

    Filters after cargo-zigbuild's and pyodide's: host include/library folders, `-Wp,`
    (except dependency files), `-march=`/`-mtune=` (host CPUs), `-lgcc_s`.
    """
    unset = " ".join(pin()["scrub_env"])
    link = " ".join(shlex.quote(f) for f in link_flags)
    return f"""#!/bin/sh
# Written by xbuild for a cross build: zig for one target, host-only flags dropped.
unset {unset}
export ZIG_GLOBAL_CACHE_DIR={shlex.quote(str(zig.cache_dir))}
export ZIG_LOCAL_CACHE_DIR={shlex.quote(str(zig.cache_dir))}
linking=1
for a in "$@"; do case "$a" in -c|-E|-S|-M|-MM) linking=0;; esac; done
n=$#
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  case "$a" in
    -Wp,-MD*|-Wp,-MMD*|-Wp,-MT*) set -- "$@" "$a";;
    -Wp,*|-march=*|-mtune=*|-mcpu=native|-Wl,--no-undefined-version|-Wl,-plugin-opt*|-Wl,--fix-cortex-a53-843419) ;;
    -I/usr/include|-I/usr/include/*|-I/usr/local/include*|-L/usr/lib|-L/usr/lib/*|-L/usr/local/lib*|-L/lib|-L/lib/*) ;;
    -lgcc_s) set -- "$@" -lunwind;;
    *) set -- "$@" "$a";;
  esac
done
if [ "$linking" = 1 ]; then set -- "$@" {link}; fi
exec {shlex.join([*argv, *compile_flags])} "$@"
"""


def _write_tools(zig: Zig, target: Target, runtime: Runtime, libs: TargetLibs | None, bindir: Path) -> dict[str, str]:
    compile_flags = ["-fPIC"] if target.os != "windows" else ["-DMS_WIN64"] if target.bits == 64 else []
    link_flags: list[str] = []
    if libs is not None:
        compile_flags += libs.compile_flags()
        link_flags += libs.link_flags()
    if target.os == "windows":
        nodot = "".join(runtime.minor.split("."))
        link_flags += [f"-L{runtime.root / 'libs'}", f"-lpython{nodot}"]
    else:
        link_flags += ["-s"]  # no symbol tables or debug info in shipped modules
    tools: dict[str, str] = {}
    for name, cxx in (("cc", False), ("c++", True)):
        text = _wrapper(zig, zig.cc(target, cxx=cxx), compile_flags=compile_flags, link_flags=link_flags)
        tools[name] = str(xcache.write_atomic(bindir / name, text, mode=0o755))
    for name, argv in (("ar", zig.ar()), ("ranlib", zig.ranlib())):
        text = f"#!/bin/sh\nexport ZIG_GLOBAL_CACHE_DIR={shlex.quote(str(zig.cache_dir))}\nexec {shlex.join(argv)} \"$@\"\n"
        tools[name] = str(xcache.write_atomic(bindir / name, text, mode=0o755))
    tools["strip"] = str(xcache.write_atomic(bindir / "strip", "#!/bin/sh\nexit 0\n", mode=0o755))  # linked with -s already
    return tools


def _meson_cross(target: Target, tools: dict[str, str]) -> str:
    family = _CPU_FAMILY.get(target.machine, target.machine)
    endian = "big" if target.machine in _BIG_ENDIAN else "little"
    system = {"linux": "linux", "windows": "windows", "macos": "darwin"}[target.os]
    longdouble = {"x86_64": "INTEL_EXTENDED_16_BYTES_LE", "i686": "INTEL_EXTENDED_12_BYTES_LE", "aarch64": "IEEE_QUAD_LE",
                  "s390x": "IEEE_QUAD_BE", "riscv64": "IEEE_QUAD_LE", "arm": "IEEE_DOUBLE_LE", "ppc64le": "IBM_DOUBLE_DOUBLE_LE"}  # fmt: skip
    ld = "IEEE_DOUBLE_LE" if target.os == "windows" and target.machine == "aarch64" else longdouble.get(target.machine, "IEEE_DOUBLE_LE")
    return (
        "[binaries]\n"
        f"c = '{tools['cc']}'\ncpp = '{tools['c++']}'\nar = '{tools['ar']}'\nstrip = '{tools['strip']}'\npkg-config = 'false'\n\n"
        f"[host_machine]\nsystem = '{system}'\ncpu_family = '{family}'\ncpu = '{target.machine}'\nendian = '{endian}'\n\n"
        f"[properties]\nneeds_exe_wrapper = true\nlongdouble_format = '{ld}'\n"
    )


def _cmake_toolchain(target: Target, runtime: Runtime, tools: dict[str, str], libs: TargetLibs | None) -> str:
    system = {"linux": "Linux", "windows": "Windows", "macos": "Darwin"}[target.os]
    processor = {"x86_64": "AMD64", "aarch64": "ARM64"}.get(target.machine, target.machine) if target.os == "windows" else target.machine
    roots = [str(runtime.root), *([str(libs.root)] if libs is not None else [])]
    include = runtime.path(runtime.include)
    lines = [
        "# Written by xbuild: cross-compile with zig for " + target.triple,
        f"set(CMAKE_SYSTEM_NAME {system})",
        f"set(CMAKE_SYSTEM_PROCESSOR {processor})",
        f'set(CMAKE_C_COMPILER "{tools["cc"]}")',
        f'set(CMAKE_CXX_COMPILER "{tools["c++"]}")',
        f'set(CMAKE_AR "{tools["ar"]}")',
        f'set(CMAKE_RANLIB "{tools["ranlib"]}")',
        "set(CMAKE_C_LINKER_DEPFILE_SUPPORTED FALSE)",
        "set(CMAKE_CXX_LINKER_DEPFILE_SUPPORTED FALSE)",
        f'set(CMAKE_FIND_ROOT_PATH "{";".join(roots)}")',
        "set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)",
        "set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)",
        "set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)",
        "set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)",
        f'set(Python_INCLUDE_DIR "{include}")',
        f'set(Python3_INCLUDE_DIR "{include}")',
        f'set(Python_SOABI "{runtime.ext_suffix.split(".")[1]}")',
        f'set(Python3_SOABI "{runtime.ext_suffix.split(".")[1]}")',
    ]
    if target.os == "windows":
        nodot = "".join(runtime.minor.split("."))
        lib = runtime.root / "libs" / f"python{nodot}.lib"
        lines += [f'set(Python_LIBRARY "{lib}")', f'set(Python3_LIBRARY "{lib}")']
    return "\n".join(lines) + "\n"


def write(zig: Zig, target: Target, runtime: Runtime, root: Path, libs: TargetLibs | None = None) -> CrossEnv:
    """Write the cross environment for (target, runtime) into `root`."""
    bindir = root / "bin"
    tools = _write_tools(zig, target, runtime, libs, bindir)
    windows = target.os == "windows"
    values = _windows_vars(runtime, tools) if windows else _unix_vars(runtime, tools)
    sysconfig_text = "# Target sysconfig data written by xbuild\nbuild_time_vars = " + pprint.pformat(values, width=120) + "\n"
    platform = host_platform(target)
    config = {
        "posix": not windows,
        "sysname": {"linux": "Linux", "macos": "Darwin", "windows": "Windows"}[target.os],
        "release": "",
        "machine": target.marker_machine or target.machine,
        "multiarch": str(values.get("MULTIARCH") or ""),
        "ext_suffix": runtime.ext_suffix,
    }
    config_path = xcache.write_atomic(root / "cross.json", json.dumps(config, indent=1) + "\n")
    meson = xcache.write_atomic(root / "cross.meson", _meson_cross(target, tools))
    cmake = xcache.write_atomic(root / "toolchain.cmake", _cmake_toolchain(target, runtime, tools, libs))
    env = {
        CONFIG_VAR: str(config_path),
        "_PYTHON_HOST_PLATFORM": platform,
        "_PYTHON_SYSCONFIGDATA_NAME": SYSCONFIG_NAME,
        "CC": tools["cc"], "CXX": tools["c++"], "AR": tools["ar"], "RANLIB": tools["ranlib"], "STRIP": tools["strip"],
        "LDSHARED": f"{tools['cc']} -shared", "LDCXXSHARED": f"{tools['c++']} -shared",
        "CMAKE_TOOLCHAIN_FILE": str(cmake), "SKBUILD_CMAKE_PYTHON_HINTS": "false",
        "PATH_PREPEND": str(bindir),
    }  # fmt: skip
    if windows:
        cfg = xcache.write_atomic(
            root / "dist-extra.cfg",
            f"[build_ext]\nplat_name = {platform}\nlibrary_dirs = {runtime.root / 'libs'}\n\n[bdist_wheel]\nplat_name = {platform}\n",
        )
        env.update({"SETUPTOOLS_EXT_SUFFIX": runtime.ext_suffix, "DIST_EXTRA_CONFIG": str(cfg), "SETUPTOOLS_USE_DISTUTILS": "local"})
    patch = (Path(__file__).parent / "cross_patch.py.in").read_text()
    site_files = {f"{SYSCONFIG_NAME}.py": sysconfig_text, f"{PATCH_MODULE}.py": patch, f"{PATCH_MODULE}.pth": f"import {PATCH_MODULE}\n"}
    return CrossEnv(root, env, site_files, meson, cmake, platform.replace("-", "_").replace(".", "_"))
