"""The recipe runner and the runtime assembly of from-source CPython (fast: no zig runs, no network)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from xbuild import debian, targets
from xbuild.cpython import builder, recipes, sources
from xbuild.cpython import runtime as built
from xbuild.errors import BuildError
from xbuild.toolchain import Zig


def _build(tmp_path: Path, triple: str, **kw: Any) -> builder.Build:
    zig = Zig(path=Path("/nonexistent/zig"), version="0.0.0", cache_dir=tmp_path / "zigcache")
    return builder.Build(targets.get(triple), zig, tmp_path / "work", sources.load_lock(), **kw)


def test_every_recipe_names_existing_patch_files_and_licences() -> None:
    for name in recipes.names():
        recipe = recipes.load(name)
        assert recipe["build"]["steps"], name
        assert recipe["build"]["licenses"], f"{name} keeps no licence file"
        for file in recipe["build"].get("files", []):
            assert recipes.patch(file).is_file()
    env = recipes.load("cpython")["build"]["env"]
    for patches in [env["PATCHES"], *(part["PATCHES"] for part in env.values() if isinstance(part, dict) and "PATCHES" in part)]:
        for patch in patches.split():
            assert recipes.patch(patch).is_file(), patch


def test_recipe_variables_merge_cross_then_libc_then_machine(tmp_path: Path) -> None:
    cpython = recipes.load("cpython")
    native = _build(tmp_path, "x86_64-unknown-linux-gnu")
    assert not native.cross
    env = builder.recipe_env(native, cpython)
    assert env["LINKAGE"] == "--enable-shared" and env["CROSS_ARGS"] == ""
    cross = _build(tmp_path, "aarch64-unknown-linux-gnu")
    assert cross.cross and "--with-build-python=$BUILD_PYTHON" in builder.recipe_env(cross, cpython)["CROSS_ARGS"]
    musl = builder.recipe_env(_build(tmp_path, "x86_64-unknown-linux-musl"), cpython)
    assert musl["LINK_LDFLAGS"].split()[0] == "-static" and "cpython-musl-triplet.patch" in musl["PATCHES"]
    ffi = builder.recipe_env(cross, recipes.load("libffi"))
    assert (ffi["FFI_TARGET"], ffi["FFI_DIR"]) == ("AARCH64", "aarch64")


def test_a_recipe_extends_the_compiler_flags_for_one_target(tmp_path: Path) -> None:
    libffi = recipes.load("libffi")
    pkg = sources.load_lock().packages["libffi"]
    ppc = builder.environment(_build(tmp_path, "ppc64le-unknown-linux-gnu"), "libffi", libffi, pkg)
    x86 = builder.environment(_build(tmp_path, "x86_64-unknown-linux-gnu"), "libffi", libffi, pkg)
    assert ppc["CFLAGS"] == f"{x86['CFLAGS']} -I../src"  # "$CFLAGS -I../src": the base flags kept


def test_a_patch_for_one_target_changes_only_that_targets_key() -> None:
    ppc, s390x = targets.get("ppc64le-unknown-linux-gnu"), targets.get("s390x-unknown-linux-gnu")
    assert "cpython-termio-powerpc.patch" in json.loads(builder.effective_recipe("cpython", ppc))["files"]
    assert "cpython-termio-powerpc.patch" not in json.loads(builder.effective_recipe("cpython", s390x))["files"]


def test_expansion_fills_xbuild_variables_and_leaves_make_escapes(tmp_path: Path) -> None:
    known = {"BUILD_PYTHON": "/h/python3.13", "PREFIX": "/deps"}
    assert builder._expand("--with-build-python=$BUILD_PYTHON -I${PREFIX}/include", known) == "--with-build-python=/h/python3.13 -I/deps/include"
    # `\$$ORIGIN` must reach CPython's Makefile untouched (make turns it into $ORIGIN).
    ldflags = recipes.load("cpython")["build"]["env"]["glibc"]["LINK_LDFLAGS"]
    assert builder._expand(ldflags, known) == ldflags and r"\$$ORIGIN/../lib" in ldflags


def test_libm_header_binds_compiler_rt_duplicates_to_base_glibc(tmp_path: Path) -> None:
    header = builder.libm_header(_build(tmp_path, "x86_64-unknown-linux-gnu"))
    assert header is not None
    text = header.read_text()
    assert '__asm__(".symver log2,log2@GLIBC_2.2.5");' in text and "fma,fma@GLIBC_2.2.5" in text
    assert "log2,log2@GLIBC_2.17" in builder.libm_header(_build(tmp_path, "aarch64-unknown-linux-gnu")).read_text()  # type: ignore[union-attr]
    assert builder.libm_header(_build(tmp_path, "x86_64-unknown-linux-musl")) is None


def test_an_unbuildable_target_is_refused_by_name() -> None:
    with pytest.raises(BuildError, match="cannot be built from source for x86_64-pc-windows-msvc"):
        builder.target_facts(targets.get("x86_64-pc-windows-msvc"))


def _fake_tarball(tmp_path: Path, files: dict[str, str]) -> Path:
    path = tmp_path / "demo.orig.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"demo-1.0/{name}")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return path


def _with_recipe(monkeypatch: pytest.MonkeyPatch, name: str, recipe: dict[str, Any]) -> None:
    real = recipes.load
    monkeypatch.setattr(recipes, "load", lambda n: recipe if n == name else real(n))


def test_a_failing_step_names_package_step_and_a_log_that_survives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(tmp_path / "cache"))
    recipe = {"build": {"licenses": [], "steps": [
        {"name": "configure", "sh": "./configure"},
        {"name": "make", "sh": "echo never"},
    ]}}  # fmt: skip
    _with_recipe(monkeypatch, "zlib", recipe)
    events: list[builder.Event] = []
    b = _build(tmp_path, "x86_64-unknown-linux-gnu", report=events.append, log_dir=tmp_path / "logs")
    tarball = _fake_tarball(tmp_path, {"configure": "#!/bin/sh\necho 'checking for cc... no'\nexit 3\n"})
    with pytest.raises(builder.StepFailed) as e:
        builder.run_package(b, "zlib", tarball)
    message = str(e.value)
    assert "zlib" in message and "step 2/3 (configure, exit code 3)" in message
    log = tmp_path / "logs" / "zlib-1-configure.log"
    assert str(log) in message and "checking for cc... no" in log.read_text()
    assert [(ev.package, ev.step, ev.index, ev.steps) for ev in events] == [("zlib", "unpack", 1, 3), ("zlib", "configure", 2, 3)]


def test_a_patch_that_no_longer_applies_fails_the_patch_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(tmp_path / "cache"))
    steps = recipes.load("cpython")["build"]["steps"][:1]  # the real patch step
    assert steps[0]["name"] == "patch"
    _with_recipe(monkeypatch, "cpython", {**recipes.load("cpython"), "build": {**recipes.load("cpython")["build"], "steps": steps}})
    b = _build(tmp_path, "x86_64-unknown-linux-gnu", log_dir=tmp_path / "logs")
    tarball = _fake_tarball(tmp_path, {"Lib/ctypes/__init__.py": "pythonapi = something_else\n"})
    with pytest.raises(builder.StepFailed, match=r"cpython failed at step 2/2 \(patch"):
        builder.run_package(b, "cpython", tarball)


def test_sysconfig_rewrite_leaves_no_build_folder_or_wrapper(tmp_path: Path) -> None:
    b = _build(tmp_path, "x86_64-unknown-linux-gnu")
    root = tmp_path / "python"
    stdlib = root / "lib" / "python3.13"
    stdlib.mkdir(parents=True)
    cc = b.toolchain / "cc"
    data = stdlib / "_sysconfigdata__linux_x86_64-linux-gnu.py"
    data.write_text(
        "build_time_vars = {'CC': '%s', 'CFLAGS': '-Wno-date-time -include %s/files/xbuild-glibc-libm.h -O3',\n"  # noqa: UP031 (reads as the file it writes)
        " 'CONFIG_ARGS': \"'--with-openssl=%s/deps' '--with-build-python=/root/.cache/xbuild/cpython-host/x/bin/python3.13'\",\n"
        " 'LDFLAGS': '-L%s/deps/lib -Wl,-rpath,$ORIGIN/../lib', 'AR': '%s'}\n" % (cc, b.work, b.work, b.work, b.toolchain / "ar")
    )
    built._rewrite_build_paths(b, root, "3.13")
    text = data.read_text()
    assert str(tmp_path) not in text and "/root/.cache" not in text
    values: dict[str, Any] = {}
    exec(text, values)
    vars_ = values["build_time_vars"]
    assert vars_["CC"] == "cc" and vars_["AR"] == "ar"
    assert vars_["CFLAGS"].split() == ["-Wno-date-time", "-O3"]
    assert vars_["LDFLAGS"].split() == ["-Wl,-rpath,$ORIGIN/../lib"]


def test_runtime_key_changes_with_recipes_zig_and_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = sources.load_lock()
    gnu = targets.get("x86_64-unknown-linux-gnu")
    key = built.runtime_digest(gnu, lock, "0.17.1")
    assert key == built.runtime_digest(gnu, lock, "0.17.1")
    assert key != built.runtime_digest(gnu, lock, "0.17.2")
    assert key != built.runtime_digest(targets.get("aarch64-unknown-linux-gnu"), lock, "0.17.1")
    other = debian.SourceLock(lock.mirror, lock.indexes, {**lock.packages, "zlib": lock.packages["bzip2"]})
    assert key != built.runtime_digest(gnu, other, "0.17.1")
    monkeypatch.setattr(built, "BUILDER_REVISION", "changed")
    assert key != built.runtime_digest(gnu, lock, "0.17.1")


def test_source_offers_follow_the_lock_and_the_target_table() -> None:
    from xbuild.runtimes import source

    offers = source.offers(targets.get("x86_64-unknown-linux-gnu"), "3.13")
    assert len(offers) == 1 and offers[0].python == built.python_version(sources.load_lock())
    assert offers[0].key.startswith(f"source-{offers[0].python}-")
    assert source.offers(targets.get("x86_64-unknown-linux-gnu"), "3.11") == []
    assert source.offers(targets.get("x86_64-pc-windows-msvc"), "3.13") == []
    assert not offers[0].static and source.offers(targets.get("x86_64-unknown-linux-musl"), "3.13")[0].static
    from xbuild import runtimes

    order = runtimes.default_order()
    assert order.index("pbs") < order.index("source") < order.index("debian")


def test_cli_refuses_an_unbuildable_target_and_a_version_the_lock_lacks() -> None:
    from .conftest import assert_one_line_error, run_xbuild

    proc = run_xbuild("runtime", "build", "-t", "x86_64-pc-windows-msvc", "--python", "3.13")
    assert_one_line_error(proc, "cannot be built from source for x86_64-pc-windows-msvc")
    proc = run_xbuild("runtime", "build", "-t", "x86_64-unknown-linux-gnu", "--python", "3.12")
    assert_one_line_error(proc, "pins CPython 3.13.", "not 3.12")


def test_cross_builds_take_the_published_host_runtime_as_build_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With this machine's own from-source runtime published (CI builds it first), a cross
    build compiles no host CPython: the runtime's interpreter is the build Python."""
    from xbuild.runtimes import model, store

    host = targets.host()
    if host is None or host.triple != "x86_64-unknown-linux-gnu":
        pytest.skip("needs an x86_64 glibc host")
    lock = sources.load_lock()
    zig = Zig(Path("/nonexistent/zig"), "0.17.1", tmp_path / "zig-cache")
    steps: list[str] = []
    monkeypatch.setattr(builder, "run_package", lambda *a, **kw: steps.append("built"))
    root = store.root() / host.triple / built.runtime_key(host, lock, zig)
    minor = ".".join(built.python_version(lock).split(".")[:2])
    exe = root / "bin" / f"python{minor}"
    (root / f"include/python{minor}").mkdir(parents=True)
    (root / f"include/python{minor}/patchlevel.h").write_text(f'#define PY_VERSION "{built.python_version(lock)}"\n')
    (root / f"include/python{minor}/Python.h").write_text("")
    (root / f"lib/python{minor}/lib-dynload").mkdir(parents=True)
    (root / f"lib/python{minor}/lib-dynload/_struct.cpython-313-x86_64-linux-gnu.so").write_bytes(b"")
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    model.write(model.describe(root, host, source="source", origin="test", inputs={}, libc_floor="2.17"))
    assert built.host_python(lock, zig, builder.log_event, offline=True) == exe
    assert steps == []
    exe.chmod(0o644)  # not runnable: the host build is the fallback (here a stand-in that installs nothing)
    monkeypatch.setattr(sources, "fetch", lambda *a, **kw: tmp_path / "cpython.tar.gz")
    with pytest.raises(BuildError, match=r"host build of CPython .* installed no"):
        built.host_python(lock, zig, builder.log_event, offline=True)
    assert steps == ["built"]


def test_a_static_interpreter_refuses_wheels_with_extension_modules(tmp_path: Path) -> None:
    import dataclasses
    import zipfile

    from xbuild import preflight, resolve
    from xbuild.runtimes.model import Runtime

    def wheel(name: str, files: list[str]) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as zf:
            for file in files:
                zf.writestr(file, "")
        return path

    pure = wheel("attrs-25.1.0-py3-none-any.whl", ["attrs/__init__.py"])
    binary = wheel("PyYAML-6.0.2-cp313-cp313-musllinux_1_1_x86_64.whl", ["yaml/__init__.py", "yaml/_yaml.cpython-313-x86_64-linux-musl.so"])
    static = Runtime(
        root=tmp_path, python="3.13.15", triple="x86_64-unknown-linux-musl", source="source", origin="test", inputs={},
        libc_floor=None, include="include/python3.13", stdlib="lib/python3.13", executable="bin/python3.13",
        libpython=None, import_lib=None, ext_suffix=".cpython-313-x86_64-linux-musl.so",
    )  # fmt: skip
    def resolved(path: Path) -> resolve.ResolvedWheel:
        name, version = path.name.split("-")[:2]
        return resolve.ResolvedWheel(name, version, path.name, "0" * 64, f"https://example.invalid/{path.name}")

    # the cache keeps wheels under their hashes: the message names each by its file name
    stored = [tmp_path / "a" / "0123abcd", tmp_path / "b" / "4567ef01"]
    for source, dest in zip([pure, binary], stored, strict=True):
        dest.parent.mkdir()
        source.rename(dest)
    preflight.check_static_runtime(static, [resolved(pure)], stored[:1])
    with pytest.raises(BuildError) as info:
        preflight.check_static_runtime(static, [resolved(pure), resolved(binary)], stored)
    message = str(info.value)
    assert "static interpreter" in message and binary.name in message and pure.name not in message and "\n" not in message
    shared = dataclasses.replace(static, triple="x86_64-unknown-linux-gnu", libpython="lib/libpython3.13.so")
    preflight.check_static_runtime(shared, [resolved(pure), resolved(binary)], stored)
    # the same verdict before the static runtime is built, from its offer
    from xbuild.runtimes import source

    musl_offer = source.offers(targets.get("x86_64-unknown-linux-musl"), "3.13")[0]
    preflight.check_static_offer(musl_offer, [resolved(pure)], stored[:1])
    with pytest.raises(BuildError) as info:
        preflight.check_static_offer(musl_offer, [resolved(pure), resolved(binary)], stored)
    assert "would be a static interpreter" in str(info.value) and binary.name in str(info.value) and "\n" not in str(info.value)
    gnu_offer = source.offers(targets.get("x86_64-unknown-linux-gnu"), "3.13")[0]
    preflight.check_static_offer(gnu_offer, [resolved(pure), resolved(binary)], stored)


def test_fetch_shows_an_offer_before_building_it_and_a_refusal_builds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A static runtime costs minutes to build: the caller sees its offer first and may refuse it
    (this fast test's cache is private and empty, so nothing is published yet)."""
    from xbuild import runtimes
    from xbuild.runtimes import source

    installs: list[str] = []
    monkeypatch.setattr(source, "install", lambda offer, target, offline=False: installs.append(offer.key))
    seen: list[Any] = []

    def refuse(offer: Any) -> None:
        seen.append(offer)
        raise BuildError("refused")

    musl = targets.get("x86_64-unknown-linux-musl")
    with pytest.raises(BuildError, match="refused"):
        runtimes.fetch(musl, "3.13", sources=["source"], before_install=refuse)
    assert [(o.source, o.static) for o in seen] == [("source", True)] and installs == []
    runtimes.fetch(musl, "3.13", sources=["source"], before_install=seen.append)
    assert len(seen) == 2 and installs == [seen[1].key]


def test_the_early_static_check_steps_aside_only_for_wheels_built_from_source(tmp_path: Path) -> None:
    """No wheel for the target (ResolveError): the check waits for the built runtime. A wheel
    failing its hash stops the build at once, not after minutes of building the runtime."""
    from types import SimpleNamespace

    from xbuild import stage
    from xbuild.errors import IntegrityError, ResolveError
    from xbuild.runtimes import source

    musl = targets.get("x86_64-unknown-linux-musl")
    offer = source.offers(musl, "3.13")[0]

    def shared(error: Exception) -> Any:
        def wheels(*args: object) -> list[object]:
            raise error

        deps = SimpleNamespace(wheels=wheels, fetch=lambda found: [])
        return SimpleNamespace(deps=deps, project_wheel=tmp_path / "app-1.0-py3-none-any.whl", options=SimpleNamespace(glibc=None, max_glibc=None))

    stage._refuse_early(shared(ResolveError("no wheel for the target")), musl, offer, tmp_path)
    with pytest.raises(IntegrityError, match="sha256"):
        stage._refuse_early(shared(IntegrityError("PyYAML: sha256 mismatch")), musl, offer, tmp_path)


def test_a_cache_path_configure_cannot_use_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """A space in the cache path would break zlib's configure minutes in; the build
    stops at once, in one line naming the path and the way out, and writes nothing."""
    from .conftest import assert_one_line_error, run_xbuild

    cache = tmp_path / "my cache"
    proc = run_xbuild("runtime", "build", "-t", "x86_64-unknown-linux-gnu", "--python", "3.13", env={"XBUILD_CACHE_DIR": str(cache)})
    assert_one_line_error(proc, "configure and make", str(cache), "' '", "XBUILD_CACHE_DIR")
    assert not cache.exists() or not any(cache.rglob("*"))
    built.check_build_path(tmp_path / "plain_dir-1.2+x@y")  # letters, digits and ._/+@- pass
