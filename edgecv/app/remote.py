"""`edgecv bench ARTIFACT --remote user@host`: the same harness, run on another machine over SSH.

    target = SSHTarget("nvidia@jetson.local", python="~/venv/bin/python")
    rows, env = bench_remote(target, "model.onnx", ["--batch", "1,8", "--threads", "4"], data="val/")

1. One SSH call checks the target: its python runs, has edgecv and the artifact's backend (and
   tegrastats, for power); it makes a temporary folder there.
2. The artifact, its sidecar, --data, --class-map and the reference model stream there as one tar
   over SSH (no scp/sftp or rsync needed on the target, just `tar`).
3. `PYTHON -m edgecv bench ... --json result.json` runs there (then, with power, `-m edgecv.app.power`),
   and the JSON comes back: rows with the TARGET's fingerprint (board, JetPack, power mode, ...).
4. The temporary folder is removed, also after a failure or Ctrl-C (which stops the remote run).

Everything goes through the system's OpenSSH client with BatchMode (never a password prompt) and a
connect timeout; ~/.ssh/config, agents and keys work as for `ssh`. Every failure is one line saying
what to do (reach the host, install a key, install edgecv or a backend there).
"""
from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

REMOTE_DIR_PREFIX = "edgecv-bench-"
_REMOTE_DIR = re.compile(r"^(/[\w.-]+)*/" + REMOTE_DIR_PREFIX + r"\w+$")
_PROBE_MARK = "EDGECV-PROBE "

# Runs on the target's python: does it have edgecv and the backend? Makes the temporary folder last,
# so a refusal leaves nothing behind. Plain Python 3 syntax: it must run on whatever python is there.
_PROBE = r"""
import json, shutil, sys, tempfile
out = {"python": sys.version.split()[0], "executable": sys.executable}
def done():
    print("EDGECV-PROBE " + json.dumps(out)); sys.exit(0)
try:
    import edgecv
except ImportError as e:
    out["problem"] = "no-edgecv"; out["detail"] = str(e); done()
try:
    import edgecv.app
    from edgecv.backends import BACKENDS
    from edgecv.utils.versions import package_versions
except Exception as e:
    out["problem"] = "broken-edgecv"; out["detail"] = "%s: %s" % (type(e).__name__, e); done()
out["edgecv"] = package_versions(["edgecv"]).get("edgecv")
try:
    backend = BACKENDS.get(sys.argv[1])
except Exception as e:
    out["problem"] = "unknown-backend"; out["detail"] = str(e.args[0] if e.args else e); done()
ok, why = backend.available()
out["extra"] = backend.extra
if not ok:
    out["problem"] = "backend"; out["detail"] = why; done()
if sys.argv[2]:
    import importlib.util
    if importlib.util.find_spec("edgecv.app.power") is None:
        out["problem"] = "old-edgecv"; done()
    if shutil.which(sys.argv[2]) is None:
        out["problem"] = "no-tegrastats"; out["detail"] = sys.argv[2]; done()
out["tmp"] = tempfile.mkdtemp(prefix="edgecv-bench-")
done()
"""


class RemoteError(RuntimeError):
    """A remote benchmark that could not run; the message is one line saying what to do."""


@dataclass(frozen=True)
class SSHTarget:
    """Where to run: `host` as ssh takes it (user@host, or an alias from ~/.ssh/config)."""

    host: str
    python: str = "python3"
    key: str | None = None  # -i
    port: int | None = None  # -p
    options: tuple[str, ...] = ()  # ssh_config options, "Key=Value", each passed as -o
    connect_timeout: int = 10

    def __post_init__(self):
        if not self.host or self.host.startswith("-") or any(c.isspace() for c in self.host):
            raise ValueError(f"--remote {self.host!r}: expected user@host (or a host alias from ~/.ssh/config)")
        for opt in self.options:
            if "=" not in opt or opt.startswith("-"):
                raise ValueError(f"--remote-ssh-opt {opt!r}: expected an ssh option as Key=Value, e.g. Port=2222")

    def ssh(self, command: str) -> list[str]:
        """The ssh command line that runs `command` (a POSIX shell line) there. The user's options come
        first: for ssh the first value given for an option wins."""
        opts: list[str] = []
        if self.key:
            opts += ["-i", str(Path(self.key).expanduser())]
        if self.port:
            opts += ["-p", str(self.port)]
        for o in self.options:
            opts += ["-o", o]
        opts += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}", "-o", "ServerAliveInterval=15",
                 "-o", "ServerAliveCountMax=4", "-T"]
        return ["ssh", *opts, "--", self.host, command]

    @property
    def python_word(self) -> str:
        """The python path for the remote shell: quoted, with a leading ~/ left for the shell to expand."""
        py = self.python
        return '"$HOME"/' + shlex.quote(py[2:]) if py.startswith("~/") else shlex.quote(py)


@dataclass
class Upload:
    """What goes to the target: {name inside the remote folder: local path}, plus generated files."""

    files: dict[str, Path] = field(default_factory=dict)
    generated: dict[str, bytes] = field(default_factory=dict)

    def nbytes(self) -> int:
        total = sum(len(b) for b in self.generated.values())
        for p in self.files.values():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
        return total

    def write_tar(self, stream) -> None:
        with tarfile.open(fileobj=stream, mode="w|", dereference=True, format=tarfile.PAX_FORMAT) as tar:
            for name, path in self.files.items():
                tar.add(str(path), arcname=name, recursive=True)
            for name, data in self.generated.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))


@dataclass(frozen=True)
class RemoteBench:
    """What `edgecv bench` runs on the target. `bench_args` are bench flags without files (--batch,
    --threads, --warmup, ...); the files (`data`, `class_map`, `reference`) are copied and their remote
    paths added. With `tegrastats` (the command there), each batch size's power is measured after the
    timed rows (with `power_args`) and added to its row."""
    bench_args: Sequence[str] = ()
    data: str | Path | None = None
    class_map: str | Path | None = None
    reference: str | Path | None = None
    backend: str | None = None
    tegrastats: str | None = None
    power_args: Sequence[str] = ()


def bench_remote(target: SSHTarget, artifact: str | Path, bench: RemoteBench | None = None,
                 log: Callable[[str], None] = print, **fields) -> tuple[list[dict], dict]:
    """Benchmark `artifact` on `target` with `edgecv bench` there; (rows, the target's environment).
    `bench` (or its fields as keywords) says what runs there."""
    from ..backends import Artifact
    from ..utils.options import with_fields

    b = with_fields(RemoteBench, bench, fields, "bench_remote")
    bench_args, data, class_map, reference = b.bench_args, b.data, b.class_map, b.reference
    backend, tegrastats, power_args = b.backend, b.tegrastats, b.power_args

    art_path = Path(artifact)
    if not art_path.exists():
        raise FileNotFoundError(f"artifact {art_path} not found")
    art = Artifact.from_path(art_path, backend)  # the backend name only: the target checks it is usable
    upload, remote_args = _plan_upload(art, data, class_map, reference)

    probe = _probe(target, art.backend, shlex.split(tegrastats)[0] if tegrastats else "")
    tmp = probe["tmp"]
    try:
        log(f"copying {art_path.name}{' and ' + str(data) if data else ''} ({upload.nbytes() / 1e6:.1f} MB) to "
            f"{target.host}:{tmp}")
        _send(target, tmp, upload)
        name = art_path.name
        log(f"running edgecv bench on {target.host} ({probe['executable']}, edgecv {probe.get('edgecv')})")
        bench = [target.python_word, "-m", "edgecv", "bench", shlex.quote(name), "--json", "result.json",
                 *map(shlex.quote, [*bench_args, *remote_args])]
        _run_there(target, tmp, " ".join(bench), "edgecv bench")
        result = json.loads(_fetch(target, f"{tmp}/result.json"))
        rows, env = result["rows"], result["environment"]
        if tegrastats:
            log(f"measuring power on {target.host} with {tegrastats}")
            cmd = [target.python_word, "-m", "edgecv.app.power", shlex.quote(name), "--json", "power.json",
                   "--tegrastats", shlex.quote(tegrastats), *map(shlex.quote, [*bench_args, *remote_args, *power_args])]
            _run_there(target, tmp, " ".join(cmd), "power measurement")
            from .power import add_power

            rows = add_power(rows, json.loads(_fetch(target, f"{tmp}/power.json")))
    finally:
        _cleanup(target, tmp, log)
    for r in rows:  # the row names the local file it describes, and where it was measured
        r["path"] = str(art_path)
        r["remote"] = target.host
    env["remote"] = {"target": target.host, "python": probe["executable"], "edgecv": probe.get("edgecv")}
    return rows, env


def _plan_upload(art, data, class_map, reference) -> tuple[Upload, list[str]]:
    """The files to send and the bench flags that name them in the remote folder. The sidecar goes as a
    copy whose recorded source checkpoint (the default parity reference) points at the copy sent along."""
    up = Upload()
    args: list[str] = []
    up.files[art.path.name] = art.path
    side = art.sidecar()
    if side.is_file():
        meta = json.loads(side.read_text(encoding="utf-8"))
        src = (meta.get("extra") or {}).get("source_checkpoint")
        if src and not reference and Path(src).is_file():
            up.files[f"reference/{Path(src).name}"] = Path(src)
            meta["extra"]["source_checkpoint"] = f"reference/{Path(src).name}"  # relative to the remote folder
        elif src and not reference:
            meta["extra"]["source_checkpoint"] = None  # missing here: benchmarked without parity, as locally
        up.generated[side.name] = json.dumps(meta, indent=2).encode()
    for flag, path, folder in (("--data", data, "data"), ("--class-map", class_map, "class-map"),
                               ("--reference", reference, "reference")):
        if path is None:
            continue
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(f"{flag} {p} not found")
        if flag == "--data" and not p.is_dir():
            raise ValueError(f"--data {p} is not a folder")
        remote = folder if p.is_dir() else f"{folder}/{p.name}"
        up.files[remote] = p
        args += [flag, remote]
    return up, args


def _ssh_failure(target: SSHTarget, stderr: str) -> RemoteError:
    """One line for an ssh that could not connect or log in (exit 255)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("Warning: Permanently added")]
    said = lines[-1] if lines else "ssh exited with 255"
    low = stderr.lower()
    if "permission denied" in low or "too many authentication failures" in low:
        return RemoteError(f"{target.host} refused the SSH login ({said}): install your public key there "
                           f"(ssh-copy-id {target.host}) or pass the right one with --remote-key; "
                           "password logins are not used (BatchMode)")
    if "host key verification failed" in low or "remote host identification has changed" in low:
        return RemoteError(f"{target.host}: the host key is unknown or changed ({said}): run `ssh {target.host}` "
                           "once to check and accept it, or pass --remote-ssh-opt StrictHostKeyChecking=accept-new")
    if any(s in low for s in ("connection refused", "timed out", "no route to host", "could not resolve",
                              "network is unreachable", "name or service not known", "connection closed",
                              "connection reset", "broken pipe")):
        return RemoteError(f"cannot reach {target.host} over SSH ({said}): check the address, that sshd runs there, "
                           "and the port (--remote-port)")
    return RemoteError(f"ssh {target.host} failed: {said}")


def _ssh(target: SSHTarget, command: str, stdin_bytes: bytes | None = None, timeout: float | None = 120):
    try:
        res = subprocess.run(target.ssh(command), input=stdin_bytes, capture_output=True, timeout=timeout,
                             stdin=None if stdin_bytes is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise RemoteError("the `ssh` client is not installed here: install OpenSSH (e.g. apt-get install "
                          "openssh-client)") from None
    except subprocess.TimeoutExpired:
        raise RemoteError(f"{target.host} did not answer within {timeout:.0f} s over SSH") from None
    if res.returncode == 255:
        raise _ssh_failure(target, res.stderr.decode("utf-8", "replace"))
    return res


def _probe(target: SSHTarget, backend: str, tegrastats: str) -> dict:
    cmd = " ".join([target.python_word, "-c", shlex.quote(_PROBE), shlex.quote(backend), shlex.quote(tegrastats)])
    res = _ssh(target, cmd)
    out = res.stdout.decode("utf-8", "replace")
    err = res.stderr.decode("utf-8", "replace").strip()
    mark = next((ln for ln in out.splitlines() if ln.startswith(_PROBE_MARK)), None)
    py, host = target.python, target.host
    if mark is None:
        said = (err.splitlines() or out.strip().splitlines() or [f"exit {res.returncode}"])[-1]
        if res.returncode == 127 or "not found" in said or "no such file" in said.lower():
            raise RemoteError(f"{host} has no python at '{py}' ({said}): pass --remote-python with the path of "
                              "a Python 3.10+ that has edgecv there, e.g. --remote-python ~/edgecv-venv/bin/python")
        raise RemoteError(f"'{py}' on {host} could not run edgecv's check ({said}): pass --remote-python with a "
                          "Python 3.10+ that has edgecv")
    info = json.loads(mark[len(_PROBE_MARK):])
    where = f"{py} on {host} ({info.get('executable')}, Python {info.get('python')})"
    extra = info.get("extra") or _backend_extra(backend)
    install = f"pip install 'edgecv[{extra}]'" if extra else "pip install edgecv"
    problem = info.get("problem")
    if problem == "no-edgecv":
        raise RemoteError(f"{where} has no edgecv: install it there ({install} in a venv, after the platform's "
                          "torch) or point --remote-python at the python of a venv that has it")
    if problem == "broken-edgecv":
        raise RemoteError(f"{where} has edgecv but it does not import ({info.get('detail')}): install its "
                          f"requirements there ({install})")
    if problem == "unknown-backend":
        raise RemoteError(f"{where}: its edgecv {info.get('edgecv')} has no backend '{backend}' "
                          "(update edgecv there to this version)")
    if problem == "backend":
        raise RemoteError(f"{where} cannot run the '{backend}' backend ({info.get('detail')}): install it there "
                          f"({target.python} -m {install})")
    if problem == "old-edgecv":
        raise RemoteError(f"{where}: its edgecv {info.get('edgecv')} cannot measure power (no edgecv.app.power): "
                          "update edgecv there to this version")
    if problem == "no-tegrastats":
        raise RemoteError(f"{host} has no '{info.get('detail')}' for --tegrastats: power needs a Jetson with "
                          "JetPack's tegrastats (give its path, e.g. --tegrastats /usr/bin/tegrastats)")
    tmp = info.get("tmp") or ""
    if not _REMOTE_DIR.match(tmp):
        raise RemoteError(f"{host}: unexpected temporary folder {tmp!r} from the target's python")
    return info


def _backend_extra(name: str) -> str | None:
    from ..backends import BACKENDS

    try:
        return BACKENDS.get(name).extra
    except KeyError:
        return None


def _send(target: SSHTarget, tmp: str, upload: Upload) -> None:
    """Stream the upload as a tar into `tar -x` in the remote folder."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(target.ssh(f"cd {shlex.quote(tmp)} && tar -xf -"), stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=err)
        try:
            upload.write_tar(proc.stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ssh ended early: its exit status and stderr say why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        rc = proc.wait()
        err.seek(0)
        said = err.read().decode("utf-8", "replace")
    if rc == 255:
        raise _ssh_failure(target, said)
    if rc != 0:
        raise RemoteError(f"copying to {target.host}:{tmp} failed: {_last_line(said) or f'exit {rc}'}")


def _run_there(target: SSHTarget, tmp: str, command: str, what: str) -> str:
    """Run `command` in the remote folder; return its output. The remote process is stopped when this
    connection ends (a watcher waits for the end of our stdin), so Ctrl-C here does not leave it running
    (sshd gives a command without a terminal no hang-up signal)."""
    # A background job's stdin is /dev/null in sh, so the watcher reads the connection through fd 3.
    script = (f"cd {shlex.quote(tmp)} || exit 3\n"
              "exec 3<&0\n"
              f"{command} </dev/null 3<&- &\n"
              "pid=$!\n"
              "( cat <&3 >/dev/null 2>&1; kill -TERM $pid 2>/dev/null ) >/dev/null 2>&1 &\n"
              "watch=$!\n"
              "wait $pid; rc=$?\n"
              "kill $watch 2>/dev/null\n"
              "exit $rc\n")
    read_end, write_end = os.pipe()  # ssh's stdin: open until the run ends, closed if we die
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(target.ssh(script), stdin=read_end, stdout=out, stderr=subprocess.STDOUT)
        except FileNotFoundError:
            raise RemoteError("the `ssh` client is not installed here: install OpenSSH") from None
        finally:
            os.close(read_end)
        try:
            rc = proc.wait()
        finally:
            os.close(write_end)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if rc == 255:
        raise _ssh_failure(target, text)
    if rc != 0:
        errors = [ln.strip()[len("error:"):].strip() for ln in text.splitlines() if ln.strip().startswith("error:")]
        said = errors[-1] if errors else (_last_line(text) or f"exit {rc}")
        raise RemoteError(f"{what} on {target.host} failed: {said}")
    return text


def _fetch(target: SSHTarget, path: str) -> str:
    res = _ssh(target, f"cat {shlex.quote(path)}")
    if res.returncode != 0:
        raise RemoteError(f"could not read {target.host}:{path}: {_last_line(res.stderr.decode('utf-8', 'replace'))}")
    return res.stdout.decode("utf-8")


def _cleanup(target: SSHTarget, tmp: str, log: Callable[[str], None]) -> None:
    if not _REMOTE_DIR.match(tmp):  # only ever the folder the probe made
        return
    try:
        res = _ssh(target, f"rm -rf -- {shlex.quote(tmp)}", timeout=60)
        ok = res.returncode == 0
    except RemoteError:
        ok = False
    if not ok:
        log(f"warning: could not remove {target.host}:{tmp}; remove it by hand")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""
