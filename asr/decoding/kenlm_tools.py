"""KenLM's ``lmplz`` and ``build_binary``, compiled once from the kenlm source release on PyPI and cached.

The kenlm wheels on PyPI hold only the Python query module, not the estimation tools, and Debian does not package
them, so the first use (normally ``make install``) downloads the sdist with pip and builds the two programs with
cmake against Debian's boost packages (about 80 s on 2 cores). They are cached outside the repository:

    $ASR_KENLM_BIN                       a folder that already holds lmplz and build_binary (used as is), else
    $ASR_CACHE_DIR/kenlm/<version>/bin   ($ASR_CACHE_DIR defaults to ~/.cache/asr)

``python -m asr.decoding.kenlm_tools`` builds them if missing (tools/install.sh runs it). Only the standard library
is imported here, so that check costs a fraction of a second.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from asr.errors import ASRError

KENLM_VERSION = "0.3.0"
# lmplz and the query code support n-gram orders up to this value (a compile-time constant of KenLM).
MAX_ORDER = 6
_PROGRAMS = ("lmplz", "build_binary")
_DEBIAN_PACKAGES = ("cmake g++ make libboost-program-options-dev libboost-system-dev libboost-thread-dev "
                    "libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev")


class ToolchainError(ASRError):
    """The KenLM tools are missing and cannot be built here."""


@dataclass(frozen=True)
class KenLMTools:
    lmplz: Path
    build_binary: Path


def cache_dir() -> Path:
    return Path(os.environ.get("ASR_CACHE_DIR") or Path.home() / ".cache" / "asr")


def tools_dir() -> Path:
    """Where the tools are looked for (and built into, unless ``ASR_KENLM_BIN`` names a folder)."""
    if os.environ.get("ASR_KENLM_BIN"):
        return Path(os.environ["ASR_KENLM_BIN"])
    return cache_dir() / "kenlm" / KENLM_VERSION / "bin"


def _found(folder: Path) -> KenLMTools | None:
    paths = [folder / p for p in _PROGRAMS]
    if all(p.is_file() and os.access(p, os.X_OK) for p in paths):
        return KenLMTools(*paths)
    return None


def kenlm_tools(build: bool = True, quiet: bool = False) -> KenLMTools:
    """The cached lmplz and build_binary; builds them first when ``build`` (needs the network once)."""
    folder = tools_dir()
    tools = _found(folder)
    if tools:
        return tools
    if os.environ.get("ASR_KENLM_BIN"):
        raise ToolchainError(f"ASR_KENLM_BIN={folder}: lmplz and build_binary are not both there")
    if not build:
        raise ToolchainError(f"KenLM's lmplz/build_binary are not built yet ({folder}): run `make install` "
                             f"or `python -m asr.decoding.kenlm_tools`")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Two processes starting at once (parallel tests, two shells) must not both build into the same folder.
    with open(folder.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tools = _found(folder)
        if tools is None:
            _build(folder, quiet)
            tools = _found(folder)
    if tools is None:  # pragma: no cover - the build step checks this already
        raise ToolchainError(f"the KenLM build finished but {folder} lacks lmplz/build_binary")
    return tools


def _check_toolchain() -> None:
    missing = [tool for tool in ("cmake", "make") if shutil.which(tool) is None]
    if shutil.which("c++") is None and shutil.which("g++") is None:
        missing.append("a C++ compiler (g++)")
    if not Path("/usr/include/boost/program_options.hpp").exists() and shutil.which("dpkg-query"):
        missing.append("boost headers")
    if missing:
        raise ToolchainError(f"cannot build KenLM's lmplz: missing {', '.join(missing)}. On Debian/Ubuntu: "
                             f"apt-get install {_DEBIAN_PACKAGES} (or run `make install` as root)")


def _run_logged(cmd: list[str], log: Path, cwd: Path, what: str) -> None:
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        status = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
    if status != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ToolchainError(f"{what} failed (exit {status}); last lines of {log}:\n{tail}")


def _build(folder: Path, quiet: bool) -> None:
    _check_toolchain()

    def say(message: str) -> None:
        if not quiet:
            print(f"kenlm: {message}", file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="kenlm-build-", dir=folder.parent))
    log = folder.parent / "build.log"
    log.write_text("")
    try:
        say(f"downloading the kenlm {KENLM_VERSION} source release from PyPI")
        # --no-build-isolation: pip must not fetch build requirements just to name the sdist it downloads.
        _run_logged([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
                     "--no-binary", "kenlm", "--no-build-isolation", f"kenlm=={KENLM_VERSION}", "-d", str(work)],
                    log, work, "downloading the kenlm sdist (pip download; needs PyPI once)")
        archives = sorted(work.glob("kenlm-*.tar.gz"))
        if not archives:
            raise ToolchainError(f"pip download did not produce a kenlm sdist; see {log}")
        with tarfile.open(archives[0]) as tar:
            tar.extractall(work, filter="data")
        source = next(p for p in work.iterdir() if p.is_dir() and (p / "CMakeLists.txt").exists())
        build = source / "build"
        build.mkdir()
        say(f"compiling lmplz and build_binary (about a minute; log: {log})")
        _run_logged(["cmake", "..", "-DCMAKE_BUILD_TYPE=Release", f"-DKENLM_MAX_ORDER={MAX_ORDER}"],
                    log, build, "cmake configuration of kenlm")
        _run_logged(["make", f"-j{os.cpu_count() or 1}", *_PROGRAMS], log, build, "compiling kenlm")
        staged = work / "bin"
        staged.mkdir()
        for program in _PROGRAMS:
            shutil.copy2(build / "bin" / program, staged / program)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(folder)
        os.replace(staged, folder)  # appears whole or not at all
        say(f"built {', '.join(_PROGRAMS)} into {folder}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asr.decoding.kenlm_tools",
                                     description="Build (if missing) and locate KenLM's lmplz and build_binary.")
    parser.add_argument("--quiet", action="store_true", help="print nothing when the tools are already there")
    args = parser.parse_args(argv)
    try:
        tools = kenlm_tools(build=True, quiet=False)
    except ASRError as err:
        print(f"kenlm: error: {err}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"kenlm: {tools.lmplz.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
