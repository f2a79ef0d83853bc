"""A runner whose model runs in an emulated target: callable like any backend's runner (normalised NCHW
float32 batch -> logits), so the harness evaluates it the way it evaluates every artifact.

    with EmulatedRunner(artifact, "arm64-a53", threads=1) as run:
        logits = run(batch)

The host converts the harness's batch to the tensor the file takes with the host backend's own code (layout,
integer input encoding) and turns the raw output into logits the same way, so only the runtime's kernels
run emulated. One worker process serves every batch (starting the emulated runtime takes seconds). Results
are remembered per batch, so comparing with the host's run of the same images costs no second emulated run.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from .provision import EmulatedEnv, prepare, run_python
from .targets import EmulatedTarget, target as find_target

WORKER = Path(__file__).with_name("worker.py")
RUNTIMES = {"onnxruntime": "onnxruntime", "tflite": "litert"}  # edgecv backend -> the worker's runtime


class EmulationError(RuntimeError):
    """The emulated run failed; the message is one line."""


class EmulatedRunner:
    def __init__(self, artifact, target: str | EmulatedTarget = "arm64", threads: int | None = None,
                 env: EmulatedEnv | None = None, on_images: Callable[[int], None] | None = None):
        self.target = find_target(target) if isinstance(target, str) else target
        if artifact.backend not in RUNTIMES:
            raise ValueError(f"{artifact.path.name} is a {artifact.backend} artifact; emulation runs "
                             f"{' and '.join(RUNTIMES)} artifacts (.onnx, .tflite)")
        self.artifact, self.threads, self.on_images = artifact, threads or 1, on_images
        self.env = env or prepare(self.target.arch)
        self._to_input, self._to_logits = _converters(artifact, self.threads)
        self._memo: dict[bytes, np.ndarray] = {}
        self._stderr = tempfile.TemporaryFile()
        self._proc = run_python(self.env, self.target.qemu_cpu,
                                [str(WORKER), str(self.env.site or ""), str(Path(artifact.path).resolve()),
                                 RUNTIMES[artifact.backend], str(self.threads)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        ready = self._header("starting")
        if not ready.get("ready"):
            self.close()
            raise EmulationError(f"the emulated {self.target.name} {RUNTIMES[artifact.backend]} cannot run "
                                 f"{artifact.path.name}: {ready.get('error')}")
        self.worker = ready
        self._check_cpu(ready.get("cpu") or {})
        features = [f for f in self.target.shown if f in self.cpu_features]
        self.info = {"device": f"qemu {self.target.qemu_cpu} ({', '.join(features) or self.target.none_shown})",
                     "emulated": self.target.name, "runtime": ready.get("runtime"), "version": ready.get("version"),
                     "threads": self.threads, "cpu": ready.get("cpu")}

    @property
    def cpu_features(self) -> list[str]:
        return list((self.worker.get("cpu") or {}).get("features") or [])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        key = hashlib.sha1(x.tobytes()).digest() + repr(x.shape).encode()
        if key not in self._memo:
            self._memo[key] = self._to_logits(self._run(np.ascontiguousarray(self._to_input(x))), len(x))
            if self.on_images:
                self.on_images(len(x))
        return self._memo[key]

    def _run(self, feed: np.ndarray) -> np.ndarray:
        head = json.dumps({"dtype": feed.dtype.str, "shape": list(feed.shape)}).encode() + b"\n"
        try:
            self._proc.stdin.write(head + feed.tobytes())
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died("running a batch") from None
        reply = self._header("running a batch")
        if not reply.get("ok"):
            raise EmulationError(f"the emulated {self.target.name} runtime failed on {self.artifact.path.name}: "
                                 f"{reply.get('error')}")
        dtype = np.dtype(reply["dtype"])
        n = int(np.prod(reply["shape"], dtype=np.int64)) * dtype.itemsize
        data = self._proc.stdout.read(n)
        if len(data) != n:
            raise self._died("sending its output")
        return np.frombuffer(data, dtype).reshape(reply["shape"])

    def _header(self, doing: str) -> dict:
        line = self._proc.stdout.readline()
        if not line:
            raise self._died(doing)
        try:
            return json.loads(line)
        except ValueError:
            raise EmulationError(f"the emulated {self.target.name} worker said something unexpected: {line[:200]!r}") from None

    def _died(self, doing: str) -> EmulationError:
        rc = self._proc.wait()
        self._stderr.seek(0)
        lines = [ln.strip() for ln in self._stderr.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        said = lines[-1] if lines else ""
        if rc < 0:
            import signal

            said = f"killed by {signal.Signals(-rc).name}" + (f" ({said})" if said else "")
        return EmulationError(f"the emulated {self.target.name} runtime stopped while {doing} {self.artifact.path.name} "
                              f"(exit {rc}{': ' + said if said else ''}; emulator {self.env.qemu})")

    def _check_cpu(self, cpu: dict) -> None:
        """The emulated CPU must show the class's features (a QEMU that ignores -cpu would test the wrong kernels)."""
        have = set(cpu.get("features") or [])
        if not have:
            return  # an emulator that does not fake /proc/cpuinfo: nothing to check against
        missing = [f for f in self.target.features if f not in have]
        extra = [f for f in self.target.absent if f in have]
        if missing or extra:
            self.close()
            problem = (f"lacks {', '.join(missing)}" if missing else "") + (" and " if missing and extra else "") + \
                (f"has {', '.join(extra)}" if extra else "")
            raise EmulationError(f"QEMU's -cpu {self.target.qemu_cpu} {problem}: it does not emulate the "
                                 f"{self.target.name} class ({self.target.summary})")

    def close(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.close()
                proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> "EmulatedRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()


def _converters(artifact, threads: int) -> tuple[Callable, Callable]:
    """(harness batch -> the file's input tensor, raw output -> float logits), from the host backend's own code."""
    if artifact.backend == "tflite":
        from ...backends.tflite.runner import TFLiteRunner

        host = TFLiteRunner(artifact.path, artifact.metadata, threads)  # reads the file's tensors and quantization
        return host.feed, host.logits
    from ...backends.layout import input_adapter

    meta = artifact.metadata
    adapt = input_adapter(meta.layout, meta.input_dtype, meta.mean, meta.std)
    return (adapt or (lambda x: x)), (lambda y, n: np.asarray(y, dtype=np.float32).reshape(n, -1))
