"""Hostile load on `edgecv serve`: the worst-case batch body against the documented memory bound, and
well-behaved clients while a thousand slow clients hold connections.

    python benchmarks/serve_limits.py [--artifact FILE] [--good 200] [--slow 1000] [--slow-addresses 20]
        [--duration 30] [--batches 4] [--json FILE] [--serve-arg=--flag ...]

1. Memory. One server (its own process, `python -m edgecv serve`) is sent the worst request the
   defaults allow, `--batches` at a time: a /v1/classify/batch body of 32 all-black RGBA PNGs at the
   pixel limit (40 Mpx each: ~140 KB of PNG, 320 MB once decoded and converted; the body stays under
   the 10 MiB limit). Printed: the server's RSS when ready, its peak RSS while the bodies are answered
   (VmHWM, reset first through /proc/PID/clear_refs), its RSS afterwards, and the bound the README
   documents: RSS at ready + decode budget + 2 x body budget + 32 KiB per connection allowed.
2. Slow clients. `--slow` connections from `--slow-addresses` loopback addresses (127.0.0.2, ...; each
   a client address, as far as the per-address cap is concerned) send their request one byte every
   2 s: half never finish their headers, half never finish their body. A connection the server closes
   is reopened a second later. Meanwhile `--good` clients (keep-alive, one request in flight each,
   each from its own address 127.0.1.x) post 32x32 PNGs to /v1/classify for `--duration` seconds,
   and /healthz is asked every 0.5 s on a new connection, as a Docker HEALTHCHECK does (its default
   30 s timeout; the slowest answer is printed). Printed: the good clients' answers and errors (5xx,
   timeouts, connection failures), the /healthz answers, what happened to the slow connections, and
   the server's peak RSS.

Pass/fail: 0 errors for the good clients and /healthz always 200; the peak RSS under the bound. These
are correctness figures; the load generator shares the cores with the server, so its request rates
are no measure of the service's speed (benchmarks/serve_load.py measures that, on an idle machine).
"""
from __future__ import annotations

import argparse
import asyncio
import io
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import Server, _run_clients, request_images, request_payloads  # noqa: E402  (the same clients)

SLOW_EVERY_S = 2.0  # a slow client's pause between bytes
REOPEN_AFTER_S = 1.0  # a slow client whose connection was closed comes back after this


# ---------------------------------------------------------------- memory: the worst-case batch body

def worst_png(max_pixels: int) -> bytes:
    """An all-black RGBA PNG at the pixel limit: tiny to send, the most memory per pixel to decode."""
    from PIL import Image

    side = int(max_pixels ** 0.5)
    buf = io.BytesIO()
    Image.new("RGBA", (side, side)).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def batch_body(image: bytes, count: int) -> tuple[bytes, str]:
    boundary = "edgecvlimits"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{i}.png"\r\n'
             f"Content-Type: image/png\r\n\r\n".encode() + image + b"\r\n" for i in range(count)]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def proc_status(pid: int, field: str) -> float | None:
    """VmRSS or VmHWM of a process, in MiB (Linux)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) / 1024 if m else None


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def memory_phase(server: Server, settings, batches: int, images: int | None = None) -> dict:
    import httpx

    image = worst_png(settings.max_pixels)
    per_body = (settings.max_body_bytes - 1024) // (len(image) + 200)
    count = min(settings.max_images_per_request, per_body, images or per_body)
    body, content_type = batch_body(image, count)
    pid = server.proc.pid
    ready = proc_status(pid, "VmRSS")
    reset_peak(pid)

    def post(_):
        try:
            r = httpx.post(server.url + "/v1/classify/batch", content=body, headers={"Content-Type": content_type},
                           timeout=600)
            return r.status_code
        except httpx.HTTPError as e:
            return type(e).__name__

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(batches) as pool:
        statuses = list(pool.map(post, range(batches)))
    peak = proc_status(pid, "VmHWM")
    bound = ready + settings.memory_bound_bytes / 2**20 if hasattr(settings, "memory_bound_bytes") else None
    return {"images_per_body": count, "body_mb": len(body) / 2**20, "decoded_mb_per_image": _decoded_mb(settings.max_pixels),
            "bodies": batches, "statuses": statuses, "rss_ready_mb": ready, "rss_peak_mb": peak,
            "rss_after_mb": proc_status(pid, "VmRSS"), "bound_mb": bound}


def _decoded_mb(pixels: int) -> float:
    return pixels * 8 / 2**20  # RGBA (4 bytes a pixel in Pillow) plus its RGB copy (4 bytes a pixel)


# ---------------------------------------------------------------- slow clients

class SlowTally:
    def __init__(self):
        self.opened = self.closed_by_server = self.failed = self.answered = 0
        self.statuses: dict[int, int] = {}


async def slow_client(host: str, port: int, source: str, body_phase: bool, tally: SlowTally, stop: asyncio.Event):
    """Holds a connection: sends a request one byte per SLOW_EVERY_S, never finishing it; reopens it
    REOPEN_AFTER_S after the server closes it."""
    head = f"POST /v1/classify HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
    request = (head + "Content-Length: 100000\r\n\r\n").encode() + b"\x89PNG" if body_phase else head.encode()
    while not stop.is_set():
        writer = None
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
            tally.opened += 1
            start = 0 if not body_phase else len(request) - 4  # body clients send their headers at once
            if start:
                writer.write(request[:start])
            for i in range(start, 10**9):
                writer.write(request[i % len(request): i % len(request) + 1] if i < len(request) else b"x")
                await writer.drain()
                try:  # anything the server sends (an answer, or the close) ends this connection
                    data = await asyncio.wait_for(reader.read(200), SLOW_EVERY_S)
                except asyncio.TimeoutError:
                    if stop.is_set():
                        break
                    continue
                if data.startswith(b"HTTP/1.1 "):
                    status = int(data[9:12])
                    tally.statuses[status] = tally.statuses.get(status, 0) + 1
                    tally.answered += 1
                tally.closed_by_server += 1
                break
        except (ConnectionError, OSError):  # refused, or reset: closed with the client's bytes unread
            tally.failed += 1
        finally:
            if writer is not None:
                writer.close()
        await _sleep_unless(stop, REOPEN_AFTER_S)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


HEALTH_TIMEOUT_S = 30.0  # Docker's HEALTHCHECK default


def health_poller(url: str, seconds: float, out) -> None:
    """GET /healthz every 0.5 s on a new connection (timeout HEALTH_TIMEOUT_S), for `seconds`; puts
    ({status: count}, slowest answer in s) on `out`. Its own process: a busy load generator cannot delay it."""
    import http.client

    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
    statuses: dict = {}
    slowest = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        conn = http.client.HTTPConnection(host, int(port), timeout=HEALTH_TIMEOUT_S)
        start = time.monotonic()
        try:
            conn.request("GET", "/healthz")
            key = conn.getresponse().status
            slowest = max(slowest, time.monotonic() - start)
        except (OSError, http.client.HTTPException) as e:
            key = type(e).__name__
        finally:
            conn.close()
        statuses[key] = statuses.get(key, 0) + 1
        time.sleep(0.5)
    out.put((statuses, slowest))


async def slow_phase(url: str, good: int, slow: int, addresses: int, duration_s: float, images: list[bytes]) -> dict:
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
    port = int(port)
    stop = asyncio.Event()
    tally = SlowTally()
    sources = [f"127.0.0.{2 + i % addresses}" for i in range(slow)]
    slow_tasks = [asyncio.create_task(slow_client(host, port, src, i % 2 == 1, tally, stop)) for i, src in enumerate(sources)]
    await asyncio.sleep(min(5.0, duration_s / 4))  # the slow clients take their connections first
    held = tally.opened
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    poller = ctx.Process(target=health_poller, args=(url, duration_s, results), daemon=True)
    poller.start()
    payloads = request_payloads(f"{host}:{port}", images)
    good_sources = [f"127.0.1.{1 + i % 250}" for i in range(good)]  # each its own address, as real users are
    good_tally = await _run_clients(host, port, payloads, good, budget=10**9, duration_s=duration_s, sources=good_sources)
    stop.set()
    health, slowest = await asyncio.get_running_loop().run_in_executor(None, results.get, True, HEALTH_TIMEOUT_S + 60)
    poller.join(10)
    for t in slow_tasks:
        t.cancel()
    await asyncio.gather(*slow_tasks, return_exceptions=True)
    return {"good_clients": good, "good_ok": len(good_tally.latencies), "good_errors": good_tally.errors,
            "good_4xx": good_tally.rejected, "healthz": health, "healthz_slowest_s": round(slowest, 2),
            "slow_clients": slow, "slow_addresses": addresses,
            "slow_held_at_start": held, "slow_opened": tally.opened, "slow_closed_by_server": tally.closed_by_server,
            "slow_answered": tally.statuses, "slow_failed": tally.failed}


# ---------------------------------------------------------------- main

def build_artifact(out: Path) -> Path:
    """A random-init CIFAR ResNet-8 for ONNX Runtime: what it answers does not matter here."""
    import torch

    from edgecv.backends.build import build_artifact as build
    from edgecv.models import create_model

    res = build("onnx", create_model("cifar_resnet8", num_classes=10).eval(), torch.zeros(1, 3, 32, 32), out,
                preprocess={"mean": [0.5] * 3, "std": [0.25] * 3, "class_names": [f"class{i}" for i in range(10)]})
    if res.status != "ok":
        sys.exit(f"building the ONNX artifact failed: {res.error}")
    return res.artifact.path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifact", type=Path, help="model file to serve (default: a random CIFAR ResNet-8 as ONNX)")
    p.add_argument("--good", type=int, default=200, help="well-behaved clients (default 200)")
    p.add_argument("--slow", type=int, default=1000, help="slow clients (default 1000)")
    p.add_argument("--slow-addresses", type=int, default=20, help="loopback addresses they come from (default 20)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of good-client load (default 30)")
    p.add_argument("--batches", type=int, default=4, help="worst-case batch bodies sent at once (default 4)")
    p.add_argument("--images", type=int, help="images per body (default: as many as the limits let through, 32)")
    p.add_argument("--serve-arg", action="append", default=[], metavar="FLAG", help="extra `edgecv serve` flag (repeatable)")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-slow", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    if not 1 <= args.slow_addresses <= 250:
        p.error("--slow-addresses: 1 to 250")

    from edgecv.bench import fingerprint
    from edgecv.serve.settings import ServeSettings
    from edgecv.utils.io import write_json

    settings = ServeSettings()
    tmp = tempfile.TemporaryDirectory(prefix="serve_limits_")
    artifact = args.artifact or build_artifact(Path(tmp.name))
    env = fingerprint(1)
    print(f"artifact {artifact}; {env['cpu']}, {env['cores_usable']} usable cores, load avg {env['load_avg_1m']}", flush=True)
    record: dict = {"environment": env}
    checks = []
    try:
        if not args.skip_memory:
            server = Server("memory", artifact, 1, settings.queue_size, args.serve_arg)
            try:
                m = memory_phase(server, settings, args.batches, args.images)
            finally:
                server.stop()
            record["memory"] = m
            print(f"memory: {m['bodies']} bodies at once, each {m['images_per_body']} x all-black RGBA PNG at "
                  f"{settings.max_pixels:,} px ({m['body_mb']:.1f} MiB; {m['decoded_mb_per_image']:.0f} MiB per image "
                  f"decoded): answers {m['statuses']}; RSS ready {m['rss_ready_mb']:.0f} MiB, peak {m['rss_peak_mb']:.0f} MiB, "
                  f"after {m['rss_after_mb']:.0f} MiB; documented bound "
                  + (f"{m['bound_mb']:.0f} MiB" if m["bound_mb"] else "(none)"), flush=True)
            checks.append(("peak RSS under the documented bound", bool(m["bound_mb"]) and m["rss_peak_mb"] <= m["bound_mb"]))
        if not args.skip_slow:
            server = Server("slow", artifact, 1, settings.queue_size, args.serve_arg)
            try:
                reset_peak(server.proc.pid)
                s = asyncio.run(slow_phase(server.url, args.good, args.slow, args.slow_addresses, args.duration,
                                           request_images(50)))
                s["rss_peak_mb"] = proc_status(server.proc.pid, "VmHWM")
            finally:
                server.stop()
            record["slow"] = s
            print(f"slow clients: {s['slow_clients']} from {s['slow_addresses']} addresses held {s['slow_held_at_start']} "
                  f"connections at the start; {s['slow_opened']} opened in all, {s['slow_closed_by_server']} closed by "
                  f"the server (answers {s['slow_answered']}), {s['slow_failed']} refused or reset", flush=True)
            print(f"good clients: {s['good_clients']}: {s['good_ok']} answered 200, {s['good_errors']} errors, "
                  f"{s['good_4xx']} 4xx in {args.duration:g} s; /healthz {s['healthz']} (slowest answer "
                  f"{s['healthz_slowest_s']:.2f} s); server peak RSS "
                  f"{s['rss_peak_mb']:.0f} MiB", flush=True)
            checks.append((f"0 errors for {args.good} good clients", s["good_errors"] == 0 and s["good_ok"] > 0))
            checks.append(("/healthz always 200", set(s["healthz"]) == {200}))
    finally:
        tmp.cleanup()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    print("correctness figures only: the clients share the cores with the server, so no rate here measures its speed")
    if args.json:
        record["checks"] = dict(checks)
        print(f"wrote {write_json(args.json, record)}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
