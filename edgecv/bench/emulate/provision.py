"""Set up an emulated target once and cache it under the user's edgecv folder.

    env = prepare("arm64")   # ~/.edgecv/emulate/arm64 (or $EDGECV_HOME/emulate/arm64), set up if missing
    env = find("arm64")      # the same, or None when it is not set up (nothing is downloaded)

An arm64 target is three pieces, each fetched with the ordinary clients and nothing installed into the system:
- QEMU 10 user-mode emulation: Debian trixie's `qemu-user` (static binaries), fetched with `apt-get download`
  and unpacked with `dpkg-deb`. Debian bookworm's qemu-user-static 7.2 crashes in `import onnxruntime` and
  inside LiteRT's XNNPACK; 10.0 runs both.
- Python 3.11 for arm64: Debian bookworm's packages (python3.11-minimal, libpython3.11-stdlib, libstdc++6 and
  what they depend on), resolved and fetched by apt-get with a private state folder, unpacked with `dpkg-deb -x`.
- the cp311 aarch64 wheels of onnxruntime, ai-edge-litert and numpy, at the versions installed on the host
  (so any difference between the host's and the target's results is the CPU's, not a release's), installed
  with `pip install --target --platform ... --only-binary=:all:`.
Each piece is built in a temporary folder and renamed into place, so a killed set-up leaves nothing half
made; a lock lets two processes share one set-up. A piece that cannot be had fails with one line that says
which piece and what to install or check.
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

DEBIAN_MIRROR = "http://deb.debian.org/debian"  # $EDGECV_DEBIAN_MIRROR overrides it
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
QEMU_SUITE, ROOT_SUITE = "trixie", "bookworm"
MIN_QEMU = (10, 0)
ROOT_PACKAGES = ("python3.11-minimal", "libpython3.11-stdlib", "libstdc++6")
PYTHON = "usr/bin/python3.11"
PYTHON_TAG = ("3.11", "cp311")
GLIBC = (2, 36)  # bookworm's: the newest manylinux wheels the root can load
# Used when the host has no copy of a runtime to match (e.g. no ai-edge-litert): the versions checked here.
DEFAULT_WHEELS = {"onnxruntime": "1.32.0", "ai-edge-litert": "2.3.0", "numpy": "2.4.6"}
HOST_DISTRIBUTIONS = {"onnxruntime": ("onnxruntime", "onnxruntime-gpu"), "ai-edge-litert": ("ai-edge-litert",),
                      "numpy": ("numpy",)}
CHECK_IMPORTS = "import numpy, onnxruntime; from ai_edge_litert import interpreter"
PRUNE = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian")


class EmulationSetupError(RuntimeError):
    """A piece of an emulated target could not be had; the message is one line that names it."""


@dataclass(frozen=True)
class Arch:
    name: str  # edgecv's: "arm64"
    debian: str  # Debian's architecture: "arm64"
    qemu: str  # the emulator binary: "qemu-aarch64"
    wheel: str  # the wheels' platform tag suffix: "aarch64"
    host_runtime: bool = False  # runs this machine's own Python and runtimes (another x86-64 CPU on an x86-64 host)


ARCHES = {"arm64": Arch("arm64", "arm64", "qemu-aarch64", "aarch64"),
          "x86_64": Arch("x86_64", "amd64", "qemu-x86_64", "x86_64", host_runtime=True)}
QEMU_BINARIES = tuple(a.qemu for a in ARCHES.values())


@dataclass(frozen=True)
class EmulatedEnv:
    """A set-up target: where its emulator, root, Python and wheels are (an x86-64 target on an x86-64 host
    has no root or wheels of its own: it runs this Python and its runtimes)."""

    arch: str
    folder: Path
    manifest: dict

    @property
    def qemu(self) -> Path:
        return self.folder.parent / "qemu" / ARCHES[self.arch].qemu  # one QEMU folder serves every architecture

    @property
    def root(self) -> Path | None:
        return None if ARCHES[self.arch].host_runtime else self.folder / "root"

    @property
    def python(self) -> Path:
        return Path(sys.executable) if self.root is None else self.root / PYTHON

    @property
    def site(self) -> Path | None:
        return None if ARCHES[self.arch].host_runtime else self.folder / "site"


def edgecv_home() -> Path:
    return Path(os.environ.get("EDGECV_HOME") or Path.home() / ".edgecv")


def emulate_dir(arch: str) -> Path:
    return edgecv_home() / "emulate" / arch


def wanted_wheels() -> dict[str, str]:
    """{distribution: version} for the target: the host's versions where it has them, else the defaults."""
    from ...utils.versions import package_versions

    out = {}
    for dist, default in DEFAULT_WHEELS.items():
        have = package_versions(HOST_DISTRIBUTIONS[dist])
        out[dist] = next(iter(have.values()), default)
    return out


def find(arch: str = "arm64") -> EmulatedEnv | None:
    """The set-up target for `arch` with the wheels the host wants, or None (nothing is fetched)."""
    a = _arch(arch)
    folder = emulate_dir(a.name)
    manifest = _read_json(folder / "target.json")
    if not manifest or (not a.host_runtime and manifest.get("wheels") != wanted_wheels()):
        return None
    env = EmulatedEnv(a.name, folder, manifest)
    if not env.qemu.is_file() or (env.root is not None and not (env.python.is_file() and env.site.is_dir())):
        return None
    return env if not a.host_runtime or same_interpreter(manifest.get("python"), sys.executable) else None


def same_interpreter(a: str | None, b: str) -> bool:
    """Whether two paths start the same Python with the same packages: `python` and `python3` of one venv are
    (same folder, same file behind the links); two venvs' links to one base interpreter are not."""
    if not a:
        return False
    pa, pb = Path(a).absolute(), Path(b).absolute()
    return pa == pb or (pa.parent == pb.parent and pa.resolve() == pb.resolve())


def prepare(arch: str = "arm64", log: Callable[[str], None] = print, progress: bool = True) -> EmulatedEnv:
    """The set-up target for `arch`, setting up (with progress) whatever piece is missing."""
    env = find(arch)
    if env is not None:
        return env
    a = _arch(arch)
    if a.host_runtime and platform.machine().lower() not in ("x86_64", "amd64"):
        raise EmulationSetupError(f"emulating another {a.name} CPU runs this machine's own Python and runtimes under "
                                  f"{a.qemu}: it needs an x86-64 host (this one is {platform.machine()})")
    folder = emulate_dir(a.name)
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder.parent / ".setup.lock"):
        env = find(arch)  # another process may have finished it while we waited
        if env is not None:
            return env
        _check_tools()
        started = time.monotonic()
        steps: dict[str, float] = {}
        step = _Steps(log, progress).step
        env = EmulatedEnv(a.name, folder, {})
        if not env.qemu.is_file():
            with step(f"fetching QEMU user-mode emulation (qemu-user from Debian {QEMU_SUITE})", steps, "qemu"):
                _install(env.qemu.parent, lambda tmp: _fetch_qemu(tmp, folder))
        qemu_version = _qemu_version(env.qemu)
        wheels = wanted_wheels()
        if env.root is not None:
            if not env.python.is_file():
                with step(f"fetching Python {PYTHON_TAG[0]} for {a.name} (Debian {ROOT_SUITE} packages)", steps, "root"):
                    _install(env.root, lambda tmp: _fetch_root(tmp, a, folder))
            if (_read_json(folder / "target.json") or {}).get("wheels") != wheels or not env.site.is_dir():
                label = ", ".join(f"{k} {v}" for k, v in wheels.items())
                with step(f"fetching the {a.wheel} wheels of {label}", steps, "wheels"):
                    _install(env.site, lambda tmp: _fetch_wheels(tmp, a, wheels))
        with step(f"checking the runtimes import under {a.qemu} {qemu_version}", steps, "check"):
            python_version = _check(env)
        manifest = {"arch": a.name, "qemu": qemu_version, "python": str(env.python) if env.root is None else python_version,
                    "wheels": wheels, "size_mb": round((_size(folder) + _size(env.qemu.parent)) / 1e6, 1),
                    "setup_s": round(time.monotonic() - started, 1), "steps_s": steps,
                    "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        from ...utils.io import write_json

        write_json(folder / "target.json", manifest)
        log(f"emulated {a.name} ready in {folder.parent} ({manifest['size_mb']:.0f} MB with QEMU, "
            f"set up in {manifest['setup_s']:.0f} s)")
        return EmulatedEnv(a.name, folder, manifest)


def run_python(env: EmulatedEnv, cpu: str, args: list[str], **popen) -> subprocess.Popen:
    """The target's Python (isolated: no host environment, no user site) started under QEMU as `cpu`."""
    prefix = ["-L", str(env.root)] if env.root is not None else []
    cmd = [str(env.qemu), *prefix, "-cpu", cpu, str(env.python), "-I", *args]
    clean = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(env.folder)}
    return subprocess.Popen(cmd, env=clean, **popen)


# --- the pieces ----------------------------------------------------------------------------------------------
def _fetch_qemu(tmp: Path, folder: Path) -> None:
    with _apt(QEMU_SUITE, "amd64", folder, "QEMU 10") as apt:
        apt(["download", "qemu-user"], cwd=tmp)
        debs = list(tmp.glob("qemu-user_*.deb"))
        if not debs:
            raise EmulationSetupError(f"QEMU 10: apt-get download qemu-user (Debian {QEMU_SUITE}) gave no package")
        _extract_members(debs[0], tmp, {f"./usr/bin/{b}" for b in QEMU_BINARIES})
        debs[0].unlink()
    for b in QEMU_BINARIES:
        if not (tmp / b).is_file():
            raise EmulationSetupError(f"QEMU 10: Debian {QEMU_SUITE}'s qemu-user has no /usr/bin/{b}")
    version = _qemu_version(tmp / "qemu-aarch64")
    if tuple(int(v) for v in version.split(".")[:2]) < MIN_QEMU:
        raise EmulationSetupError(f"QEMU {version} from Debian {QEMU_SUITE} is older than {'.'.join(map(str, MIN_QEMU))}, "
                                  "which ONNX Runtime and XNNPACK need; set EDGECV_DEBIAN_MIRROR to a current mirror")


def _fetch_root(tmp: Path, a: Arch, folder: Path) -> None:
    what = f"Python {PYTHON_TAG[0]} for {a.name}"
    with _apt(ROOT_SUITE, a.debian, folder, what) as apt:
        apt(["install", "--download-only", "-y", "--no-install-recommends", *ROOT_PACKAGES])
        debs = sorted((apt.state / "cache" / "archives").glob("*.deb"))
        if not debs:
            raise EmulationSetupError(f"{what}: apt-get fetched no Debian {ROOT_SUITE} packages")
        for deb in debs:
            _run(["dpkg-deb", "-x", str(deb), str(tmp)], f"{what}: unpacking {deb.name}")
    for sub in PRUNE:  # documentation and translations: a third of the size, never read here
        shutil.rmtree(tmp / sub, ignore_errors=True)
    if not (tmp / PYTHON).is_file():
        raise EmulationSetupError(f"{what}: Debian {ROOT_SUITE}'s packages gave no /{PYTHON}")


def _fetch_wheels(tmp: Path, a: Arch, wheels: dict[str, str]) -> None:
    platforms = [f"manylinux_2_{m}_{a.wheel}" for m in range(17, GLIBC[1] + 1)] + [f"manylinux2014_{a.wheel}"]
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-conflicts",
           "--target", str(tmp), "--only-binary=:all:", "--python-version", PYTHON_TAG[0], "--implementation", "cp",
           "--abi", PYTHON_TAG[1], *[w for p in platforms for w in ("--platform", p)],
           *[f"{k}=={v}" for k, v in wheels.items()]]
    what = f"the {a.wheel} wheels of " + ", ".join(f"{k}=={v}" for k, v in wheels.items())
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        raise EmulationSetupError(f"{what}: this Python has no pip ({sys.executable} -m ensurepip installs it)")
    _run(cmd, f"{what} (from PyPI, pip install --platform)")
    shutil.rmtree(tmp / "bin", ignore_errors=True)  # console scripts for the host: of no use in the target


def _check(env: EmulatedEnv) -> str:
    """Import the runtimes in the emulated Python; its version."""
    imports = CHECK_IMPORTS if env.site is not None else "import numpy"  # the host's own runtimes: whichever it has
    path = f"sys.path.insert(0, {str(env.site)!r}); " if env.site is not None else ""
    code = f"import sys; {path}{imports}; print(sys.version.split()[0])"
    proc = run_python(env, "max", ["-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise EmulationSetupError(f"the emulated Python did not import the runtimes within 600 s ({env.folder})") from None
    if proc.returncode != 0:
        said = _last_line(err.decode("utf-8", "replace")) or _signal_text(proc.returncode)
        raise EmulationSetupError(f"the emulated {env.arch} Python cannot import the runtimes ({said}); "
                                  f"remove {env.folder} and set it up again")
    return out.decode().strip()


# --- helpers ----------------------------------------------------------------------------------------------
def _arch(name: str) -> Arch:
    if name not in ARCHES:
        raise ValueError(f"no emulated architecture '{name}': choose one of {', '.join(ARCHES)}")
    return ARCHES[name]


def _check_tools() -> None:
    missing = [t for t in ("apt-get", "dpkg-deb") if shutil.which(t) is None]
    if missing:
        raise EmulationSetupError(f"setting up emulation needs {' and '.join(missing)} (a Debian or Ubuntu host): "
                                  "install them, or copy a set-up ~/.edgecv/emulate from such a machine")
    if not DEBIAN_KEYRING.is_file():
        raise EmulationSetupError(f"setting up emulation needs Debian's archive keys ({DEBIAN_KEYRING}): "
                                  "apt-get install debian-archive-keyring")


class _AptRun:
    def __init__(self, state: Path, options: list[str], what: str):
        self.state, self.options, self.what = state, options, what

    def __call__(self, args: list[str], cwd: Path | None = None) -> str:
        return _run(["apt-get", *self.options, *args], f"{self.what}: apt-get {args[0]}", cwd=cwd)


@contextmanager
def _apt(suite: str, arch: str, folder: Path, what: str) -> Iterator[_AptRun]:
    """apt-get with a private sources list, state and cache for one Debian suite and architecture: the
    system's own apt configuration and package database are neither read nor changed."""
    mirror = os.environ.get("EDGECV_DEBIAN_MIRROR", DEBIAN_MIRROR)
    with tempfile.TemporaryDirectory(prefix=".apt-", dir=folder) as tmp:
        state = Path(tmp)
        for sub in ("lists/partial", "cache/archives/partial", "empty"):
            (state / sub).mkdir(parents=True)
        (state / "status").touch()
        (state / "sources.list").write_text(f"deb [signed-by={DEBIAN_KEYRING}] {mirror} {suite} main\n")
        empty = state / "empty"
        opts = {"Dir::Etc::SourceList": state / "sources.list", "Dir::Etc::SourceParts": empty,
                "Dir::Etc::Preferences": empty / "none", "Dir::Etc::PreferencesParts": empty,
                "Dir::Etc::Parts": empty, "Dir::State": state, "Dir::State::Lists": state / "lists",
                "Dir::State::status": state / "status", "Dir::Cache": state / "cache",
                "APT::Architecture": arch, "APT::Architectures": arch, "Debug::NoLocking": "1",
                "APT::Sandbox::User": "root" if os.geteuid() == 0 else "", "Acquire::Retries": "3"}
        options = [w for k, v in opts.items() if v != "" for w in ("-o", f"{k}={v}")]
        apt = _AptRun(state, options, f"{what} (Debian {suite} {arch} from {mirror})")
        said = apt(["update", "-q"])
        if not any((state / "lists").glob("*_Packages*")):  # apt-get update exits 0 when every fetch failed
            lines = said.splitlines()
            fetch = [ln for ln in lines if "Failed to fetch" in ln] or [ln for ln in lines if ln.startswith(("W:", "E:"))]
            detail = (fetch[0] if fetch else "no package index").replace("W: ", "").replace("E: ", "")
            raise EmulationSetupError(f"{apt.what}: could not fetch Debian's package index ({detail.strip()}); "
                                      "check access to Debian's archive or set EDGECV_DEBIAN_MIRROR")
        yield apt


def _extract_members(deb: Path, dest: Path, members: set[str]) -> None:
    """Only `members` of a .deb's files, flat into `dest` (dpkg-deb streams the data tar)."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for m in tar:
                if m.name in members and m.isfile():
                    src = tar.extractfile(m)
                    out = dest / Path(m.name).name
                    with open(out, "wb") as f:
                        shutil.copyfileobj(src, f)
                    out.chmod(0o755)
    finally:
        proc.stdout.close()
        rc = proc.wait()
    if rc != 0:
        raise EmulationSetupError(f"QEMU 10: dpkg-deb could not read {deb.name}: {_last_line(proc.stderr.read().decode())}")


def _install(final: Path, build: Callable[[Path], None]) -> None:
    """Build a piece in a temporary folder beside `final`, then put it in place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        build(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the set-up is readable like the rest of ~/.edgecv
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    """Run a set-up command; its output, or one line saying what failed."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise EmulationSetupError(f"{what}: {e}") from None
    if res.returncode != 0:
        lines = [ln for ln in (res.stderr + res.stdout).splitlines()
                 if ln.strip() and not ln.startswith(("WARNING: Location", "W: "))]
        errors = [ln for ln in lines if ln.startswith(("E:", "ERROR:"))]
        said = (errors or lines or [f"exit {res.returncode}"])[-1].strip()
        raise EmulationSetupError(f"{what} failed: {said}")
    return res.stdout + res.stderr


def _qemu_version(path: Path) -> str:
    try:
        out = subprocess.run([str(path), "-version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise EmulationSetupError(f"QEMU 10: {path} does not run here ({e})") from None
    m = re.search(r"version (\d+\.\d+(?:\.\d+)?)", out)
    if not m:
        raise EmulationSetupError(f"QEMU 10: {path} -version printed no version")
    return m.group(1)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class _Steps:
    """One line per step on any console, and a spinner with the elapsed time on a terminal."""

    def __init__(self, log: Callable[[str], None], progress: bool):
        from ...utils.console import get_console

        self.log, self.console = log, get_console()
        self.live = progress and self.console.is_terminal

    @contextmanager
    def step(self, label: str, times: dict, key: str):
        self.log(f"{label} ...")
        t0 = time.monotonic()
        if self.live:
            with self.console.status(f"{label} ...", spinner="dots"):
                yield
        else:
            yield
        times[key] = round(time.monotonic() - t0, 1)
        self.log(f"  done in {times[key]:.0f} s")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _signal_text(rc: int) -> str:
    if rc < 0:
        import signal

        return f"killed by {signal.Signals(-rc).name}" + (" (the emulator crashed)" if -rc == signal.SIGSEGV else "")
    return f"exit {rc}"
