"""Power and energy per image on a Jetson, from `tegrastats` sampled while a runner runs.

    with Tegrastats(["tegrastats"], interval_ms=100) as ts:
        power = measure_power(runner, x, ts, seconds=5)
    power["power_mw"], power["energy_mj_per_image"]

tegrastats runs in the background on a pseudo-terminal (so it writes each line as it samples, not in
4 KB blocks into a pipe) and every line is stamped when it arrives. `measure_power` first reads the
idle power, then runs the model back to back for `seconds`: the load power is the mean of the samples
inside that window, and energy per image is load power x window / images classified in it
(mW x s = mJ). `energy_mj_per_image_dynamic` subtracts the idle power: what the inference itself adds.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import threading
import time
from typing import Callable, Sequence

import numpy as np

from .jetson import parse_tegrastats, total_power


class Tegrastats:
    """`tegrastats --interval MS` in the background; `samples(t0, t1)` are the rails of the lines that
    arrived between two `time.monotonic()` stamps."""

    def __init__(self, command: str | Sequence[str] = "tegrastats", interval_ms: int = 100, first_sample_s: float = 5.0):
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.command:
            raise ValueError("empty tegrastats command")
        self.interval_ms = int(interval_ms)
        self.first_sample_s = first_sample_s
        self.lines: list[tuple[float, str]] = []  # (arrival, line), every line tegrastats printed
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._fd: int | None = None

    def start(self) -> "Tegrastats":
        import pty

        if shutil.which(self.command[0]) is None:
            raise FileNotFoundError(f"'{self.command[0]}' not found: power needs a Jetson's tegrastats (JetPack), "
                                    "or its path (--tegrastats /usr/bin/tegrastats)")
        master, slave = pty.openpty()
        try:
            self._proc = subprocess.Popen([*self.command, "--interval", str(self.interval_ms)], stdin=subprocess.DEVNULL,
                                          stdout=slave, stderr=slave, close_fds=True, start_new_session=True)
        except OSError as e:
            os.close(master)
            raise RuntimeError(f"cannot start {self.command[0]}: {e}") from None
        finally:
            os.close(slave)
        self._fd = master
        self._reader = threading.Thread(target=self._read, name="tegrastats", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.first_sample_s
        while time.monotonic() < deadline:  # tegrastats that cannot read the rails says why and exits
            if self.samples(0, float("inf")):
                return self
            if self._proc.poll() is not None:
                self._reader.join(timeout=2)  # what it printed before exiting is still in the terminal
                break
            time.sleep(0.02)
        said = " / ".join(ln for _, ln in self.lines[-3:]) or "nothing"
        code = self._proc.poll()
        self.stop()
        what = (f"exited with code {code}" if code is not None else
                f"printed no power rails within {self.first_sample_s:.0f} s")
        raise RuntimeError(f"{shlex.join(self.command)} {what} (it said: {said[:200]})")

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._fd, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            now = time.monotonic()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            with self._lock:
                self.lines += [(now, ln.decode("utf-8", "replace").strip()) for ln in lines if ln.strip()]

    def samples(self, t0: float, t1: float) -> list[dict[str, int]]:
        """{rail: current mW} of each line that arrived in [t0, t1] and has power rails."""
        with self._lock:
            lines = [ln for t, ln in self.lines if t0 <= t <= t1]
        out = []
        for ln in lines:
            rails = parse_tegrastats(ln)
            if rails:
                out.append({k: cur for k, (cur, _) in rails.items()})
        return out

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, 15)
            except OSError:
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=2)
            self._reader = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "Tegrastats":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def summarize(samples: Sequence[dict[str, int]]) -> dict | None:
    """Mean total power (the rail `total_power` picks on each sample) and mean of each rail, in mW."""
    totals = [total_power(s) for s in samples]
    totals = [t for t in totals if t is not None]
    if not totals:
        return None
    rails = sorted({k for s in samples for k in s})
    return {"rail": totals[0][0], "mw": float(np.mean([t[1] for t in totals])), "samples": len(totals),
            "rails_mw": {r: round(float(np.mean([s[r] for s in samples if r in s])), 1) for r in rails}}


def measure_power(runner: Callable, x: np.ndarray, sampler: Tegrastats, seconds: float = 5.0, idle_s: float = 2.0,
                  warmup: int = 10, clock: Callable[[], float] = time.monotonic) -> dict:
    """Idle power, then load power and energy per image while `runner(x)` runs back to back for `seconds`."""
    if seconds <= 0 or idle_s < 0:
        raise ValueError(f"power needs seconds > 0 and idle_s >= 0 (got {seconds}, {idle_s})")
    i0 = clock()
    time.sleep(idle_s)
    idle = summarize(sampler.samples(i0, clock())) if idle_s else None
    for _ in range(warmup):
        runner(x)
    calls, t0 = 0, clock()
    while True:
        runner(x)
        calls += 1
        t1 = clock()
        if t1 - t0 >= seconds:
            break
    load = summarize(sampler.samples(t0, t1))
    if load is None or load["samples"] < 2:
        n = load["samples"] if load else 0
        raise RuntimeError(f"tegrastats gave {n} power sample(s) in {t1 - t0:.1f} s of inference; "
                           "give it more time (--power-time)")
    images = calls * len(x)
    energy = load["mw"] * (t1 - t0) / images  # mW x s = mJ
    return {
        "power_rail": load["rail"],
        "power_mw": round(load["mw"], 1),
        "power_mw_idle": round(idle["mw"], 1) if idle else None,
        "energy_mj_per_image": round(energy, 4),
        "energy_mj_per_image_dynamic": round((load["mw"] - idle["mw"]) * (t1 - t0) / images, 4) if idle else None,
        "power_samples": load["samples"],
        "power_seconds": round(t1 - t0, 3),
        "power_images": images,
        "power_rails_mw": load["rails_mw"],
    }
