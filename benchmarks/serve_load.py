"""Load test of `edgecv serve`: N concurrent clients on loopback, with and without dynamic batching,
beside the bare runner's throughput on the same threads.

    python benchmarks/serve_load.py [--artifact FILE] [--clients 200] [--requests 10000] [--duration 300]
        [--threads 1] [--max-batch 16] [--max-wait-ms 2] [--rounds 1] [--client auto|wrk|python]
        [--client-procs 1] [--json FILE]

The artifact defaults to the CIFAR ResNet-20 teacher (../shared/data/teachers) built for ONNX Runtime.
Two servers run as their own processes (`python -m edgecv serve ... --threads T`), one without
batching (--max-batch 1) and one with dynamic batching (--max-batch B --max-wait-ms W), and take the
same load in turn (`--rounds` alternating phases, so a change in machine load hits both alike).

The clients post CIFAR-10 PNGs to /v1/classify over HTTP/1.1 keep-alive, one request in flight each.
By default they are wrk (Debian's `wrk`, in C: a few % of a core at 1,000 req/s), so that the load
generator does not take the CPU the server is measured on; without wrk, a minimal asyncio client
(about half a core at that rate on this machine; `--client-procs` spreads it over processes). A
phase ends after `--requests` answers or `--duration` seconds, whichever comes first, and every
request has a 30 s timeout: the script always stops by itself.

Per server it prints requests/s, p50/p99 latency (successful requests, client side), errors (5xx,
timeouts, connection failures) and other 4xx, the mean images per runner call (from the server's
/metrics), and the server's RSS after start-up and a warm-up, and after all its requests. The bare
runner is `Predictor.logits` at batch 1 (and at batch B) on the same threads, timed with
`edgecv.bench.time_interleaved`, without decoding or HTTP.

Targets for the CIFAR ResNet-20 ONNX: 0 errors at 200 concurrent clients; RSS growth < 10 % over
10,000 requests; unbatched service throughput >= 70 % of the bare runner's at batch 1; dynamic
batching >= 1.5x the unbatched service. Timings only mean something on an otherwise idle machine:
the environment line shows the load average and the share of the cores other processes used.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
REQUEST_TIMEOUT_S = 30.0
COLUMNS = [("name", "runner", "{}"), ("clients", "clients", "{}"), ("requests", "requests", "{}"),
           ("errors", "errors (5xx/conn)", "{}"), ("rejected_4xx", "4xx", "{}"), ("rps", "req/s", "{:.1f}"),
           ("p50_ms", "p50 ms", "{:.2f}"), ("p99_ms", "p99 ms", "{:.2f}"), ("mean_batch", "images/call", "{:.2f}"),
           ("rss_before_mb", "RSS before MB", "{:.1f}"), ("rss_after_mb", "RSS after MB", "{:.1f}"),
           ("rss_growth_pct", "RSS growth %", "{:+.1f}"), ("vs_bare_b1", "vs bare b1", "{:.2f}x"),
           ("vs_unbatched", "vs unbatched", "{:.2f}x")]


# ---------------------------------------------------------------- the load generator (no edgecv imports)

class Tally:
    def __init__(self):
        self.latencies: list[float] = []  # seconds, successful requests only
        self.errors = 0  # 5xx, timeouts, connection failures
        self.rejected = 0  # 4xx
        self.start = self.end = 0.0  # wall clock (time.time), comparable across processes


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, server closes the connection) of one HTTP/1.1 response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" not in headers:
        raise ValueError(f"response without Content-Length: {lines[0]}")
    await reader.readexactly(int(headers["content-length"]))
    return status, headers.get("connection", "").lower() == "close"


async def _run_clients(host: str, port: int, requests: list[bytes], clients: int, budget: int, duration_s: float,
                       sources: list[str] | None = None) -> Tally:
    """`clients` keep-alive clients, one request in flight each; `sources`: a local address per client
    (loopback has a whole /8: distinct client addresses for a server's per-address limits)."""
    tally = Tally()
    left = [budget]
    deadline = time.monotonic() + duration_s

    async def one_client(offset: int):
        reader = writer = None
        n = offset
        while left[0] > 0 and time.monotonic() < deadline:
            left[0] -= 1
            payload = requests[n % len(requests)]
            n += clients
            start = time.perf_counter()
            try:
                if writer is None:
                    local = (sources[offset % len(sources)], 0) if sources else None
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=local),
                                                            REQUEST_TIMEOUT_S)
                writer.write(payload)
                status, close = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_S)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                tally.errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            if status >= 500:
                tally.errors += 1
            elif status >= 400:
                tally.rejected += 1
            else:
                tally.latencies.append(time.perf_counter() - start)
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    tally.start = time.time()
    await asyncio.gather(*(one_client(i) for i in range(clients)))
    tally.end = time.time()
    return tally


def client_process(host: str, port: int, requests: list[bytes], clients: int, budget: int, duration_s: float,
                   start_at: float) -> Tally:
    """One client process's share of the load, started at the wall-clock `start_at` (all at once)."""
    time.sleep(max(0.0, start_at - time.time()))
    return asyncio.run(_run_clients(host, port, requests, clients, budget, duration_s))


def _noop(_: int) -> None:
    return None


def run_load(url: str, requests: list[bytes], clients: int, budget: int, duration_s: float, procs: int, pool=None) -> dict:
    import numpy as np

    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
    if pool is None or procs == 1:
        tallies = [client_process(host, int(port), requests, clients, budget, duration_s, 0.0)]
    else:
        shares = [(clients // procs + (i < clients % procs), budget // procs + (i < budget % procs)) for i in range(procs)]
        start_at = time.time() + 0.5
        futures = [pool.submit(client_process, host, int(port), requests, c, b, duration_s, start_at) for c, b in shares if c]
        tallies = [f.result() for f in futures]
    lat = np.array([x for t in tallies for x in t.latencies])
    elapsed = max(t.end for t in tallies) - min(t.start for t in tallies)
    errors, rejected = sum(t.errors for t in tallies), sum(t.rejected for t in tallies)
    return {"requests": len(lat) + errors + rejected, "ok": len(lat), "errors": errors, "rejected_4xx": rejected,
            "seconds": round(elapsed, 3), "rps": len(lat) / elapsed if elapsed > 0 else None,
            "p50_ms": float(np.percentile(lat, 50) * 1000) if len(lat) else None,
            "p99_ms": float(np.percentile(lat, 99) * 1000) if len(lat) else None}


# ---------------------------------------------------------------- the load generator in C: wrk

# wrk runs this in each of its threads: it posts the images in turn, counts answers by status class
# and stops the thread once its share of the request budget has been answered; `done` prints one
# JSON line with the totals and the latency percentiles (microseconds).
WRK_SCRIPT = """
local files, bodies, i = {FILES}, {{}}, 0
for k, path in ipairs(files) do local f = assert(io.open(path, "rb")); bodies[k] = f:read("*all"); f:close() end
local budget = {BUDGET}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) answered, ok, c4xx, c5xx = 0, 0, 0, 0 end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/classify", {{["Content-Type"] = "image/png"}}, bodies[i])
end
function response(status, headers, body)
  answered = answered + 1
  if status >= 500 then c5xx = c5xx + 1 elseif status >= 400 then c4xx = c4xx + 1 else ok = ok + 1 end
  if answered >= budget then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local t = {{ok = 0, c4xx = 0, c5xx = 0}}
  for _, th in ipairs(threads) do
    t.ok = t.ok + th:get("ok"); t.c4xx = t.c4xx + th:get("c4xx"); t.c5xx = t.c5xx + th:get("c5xx")
  end
  local e = summary.errors
  io.write(string.format('WRK {{"ok": %d, "c4xx": %d, "c5xx": %d, "socket_errors": %d, "seconds": %f, "p50_us": %f, "p99_us": %f}}\\n',
    t.ok, t.c4xx, t.c5xx, e.connect + e.read + e.write + e.timeout, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(url: str, image_dir: Path, clients: int, budget: int, duration_s: float, threads: int = 1) -> dict:
    """The same phase as `run_load`, driven by wrk: a C client whose CPU use (a few % of a core here,
    against about half a core for the Python client) leaves the cores to the server."""
    import json

    files = sorted(str(f) for f in image_dir.glob("*.png"))
    lua = image_dir / "post.lua"
    lua.write_text(WRK_SCRIPT.format(FILES="{" + ", ".join(json.dumps(f) for f in files) + "}",
                                     BUDGET=max(1, -(-budget // threads))))
    cmd = ["wrk", f"-t{threads}", f"-c{max(clients, threads)}", f"-d{max(1, int(duration_s))}s",
           f"--timeout={int(REQUEST_TIMEOUT_S)}s", "-s", str(lua), url + "/v1/classify"]
    # wrk only ends at -d; once the server has answered the budget (its own request counter, polled),
    # SIGINT ends it early, and it still prints its summary
    start = classify_count(url)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + duration_s + REQUEST_TIMEOUT_S + 30
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
        if classify_count(url) - start >= budget:
            proc.send_signal(signal.SIGINT)
            break
    try:
        stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {(stderr or stdout)[-500:]}")
    r = json.loads(line[4:])
    errors = r["c5xx"] + r["socket_errors"]
    return {"requests": r["ok"] + r["c4xx"] + errors, "ok": r["ok"], "errors": errors, "rejected_4xx": r["c4xx"],
            "seconds": round(r["seconds"], 3), "rps": r["ok"] / r["seconds"] if r["seconds"] > 0 else None,
            "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000}


def classify_count(url: str) -> float:
    """Requests the server has answered on /v1/classify, from its /metrics."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r'^edgecv_requests_total\{endpoint="/v1/classify",[^}]*\} (\S+)$', text, re.M))


# ---------------------------------------------------------------- servers

class Server:
    """`python -m edgecv serve` in its own process; its URL is read from its first line of output."""

    def __init__(self, name: str, artifact: Path, threads: int, queue_size: int, extra: list[str]):
        self.name = name
        cmd = [sys.executable, "-m", "edgecv", "serve", str(artifact), "--port", "0", "--threads", str(threads),
               "--queue-size", str(queue_size), *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._first = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._first.wait(180) or not self.lines or "serving" not in self.lines[0]:
            self.stop()
            raise RuntimeError(f"{name}: the server did not start: {''.join(self.lines)[-2000:]}")
        self.url = re.search(r"on (http://\S+?:\d+)", self.lines[0]).group(1)
        self._wait_ready(180)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            self._first.set()
        self._first.set()

    def _wait_ready(self, timeout_s: float):
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: not ready: {''.join(self.lines)[-2000:]}")

    def rss_mb(self) -> float | None:
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:  # not Linux
            try:
                import psutil
            except ImportError:
                return None
            return psutil.Process(self.proc.pid).memory_info().rss / 2**20
        return int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1)) / 1024

    def mean_batch(self) -> float | None:
        import httpx

        text = httpx.get(self.url + "/metrics", timeout=10).text
        total = re.search(r"^edgecv_batch_size_sum (\S+)$", text, re.M)
        count = re.search(r"^edgecv_batch_size_count (\S+)$", text, re.M)
        return float(total.group(1)) / float(count.group(1)) if total and count and float(count.group(1)) else None

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


# ---------------------------------------------------------------- the benchmark

def build_artifact(out: Path) -> Path:
    import torch

    from edgecv.backends.build import build_artifact as build
    from edgecv.models import create_model

    ckpt = SHARED / "teachers" / "resnet20-12fca82f.th"
    if not ckpt.is_file():
        sys.exit(f"{ckpt} not found: pass --artifact FILE")
    model = create_model("cifar_resnet20", num_classes=10, checkpoint=ckpt).eval()
    res = build("onnx", model, torch.zeros(1, 3, 32, 32), out,
                preprocess={"mean": list(MEAN), "std": list(STD), "class_names": CIFAR_CLASSES})
    if res.status != "ok":
        sys.exit(f"building the ONNX artifact failed: {res.error}")
    return res.artifact.path


def request_images(count: int = 50) -> list[bytes]:
    """CIFAR-10 val PNGs (random PNGs where absent)."""
    import io

    import numpy as np
    from PIL import Image

    val = SHARED / "cifar10" / "val"
    every = sorted(val.glob("*/*.png")) if val.is_dir() else []
    files = every[:: max(1, len(every) // count)][:count]  # spread over the classes
    images = [f.read_bytes() for f in files]
    rng = np.random.default_rng(0)
    while len(images) < count:
        buf = io.BytesIO()
        Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(buf, format="PNG")
        images.append(buf.getvalue())
    return images


def request_payloads(host_port: str, images: list[bytes]) -> list[bytes]:
    """Ready-to-send POST /v1/classify requests for the Python client."""
    head = "POST /v1/classify HTTP/1.1\r\nHost: {}\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n"
    return [head.format(host_port, len(b)).encode() + b for b in images]


def bare_runner(artifact: Path, threads: int, max_batch: int, rounds: int) -> dict[str, dict]:
    """Throughput of Predictor.logits at batch 1 and at `max_batch`, same threads, no HTTP."""
    import numpy as np
    from PIL import Image

    from edgecv.app import Predictor
    from edgecv.bench import TimingConfig, time_interleaved

    predictor = Predictor(artifact, threads=threads)
    x1 = predictor.preprocess(Image.new("RGB", (predictor.image_size, predictor.image_size)))[None]
    inputs = {"bare runner, batch 1": x1, f"bare runner, batch {max_batch}": np.repeat(x1, max_batch, axis=0)}
    runners = {name: predictor.logits for name in inputs}
    return time_interleaved(runners, inputs, rounds=rounds, cfg=TimingConfig(warmup=20, min_runs=100, min_time_s=1.0))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifact", type=Path, help="model file to serve (default: the ResNet-20 teacher as ONNX)")
    p.add_argument("--clients", type=int, default=200, help="concurrent clients, one request in flight each (default 200)")
    p.add_argument("--requests", type=int, default=10_000, help="requests per server and round (default 10000)")
    p.add_argument("--duration", type=float, default=300.0, help="seconds per phase at most (default 300)")
    p.add_argument("--warmup-requests", type=int, default=500, help="requests before RSS 'before' is read (default 500)")
    p.add_argument("--threads", type=int, default=1,
                   help="the runner's threads, in the servers and the bare runner (default 1: on 2 cores the event "
                        "loop needs the other)")
    p.add_argument("--max-batch", type=int, default=16)
    p.add_argument("--max-wait-ms", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=1, help="alternating load phases per server (default 1)")
    p.add_argument("--client-procs", type=int, default=1, help="processes the clients are spread over (default 1)")
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                   help="load generator: wrk (C; Debian's `wrk`), or the built-in Python client; auto: wrk when on PATH")
    p.add_argument("--json", type=Path, help="write the rows and the environment to this file")
    args = p.parse_args()
    if min(args.clients, args.requests, args.threads, args.max_batch, args.rounds, args.client_procs) < 1 or args.duration <= 0:
        p.error("--clients, --requests, --threads, --max-batch, --rounds, --client-procs must be >= 1, --duration > 0")

    import shutil

    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if args.client == "wrk" and shutil.which("wrk") is None:
        p.error("--client wrk: wrk is not on PATH (Debian/Ubuntu: apt install wrk)")
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    # client processes are started before torch is imported here (spawn: nothing inherited)
    pool = ProcessPoolExecutor(args.client_procs, mp_context=get_context("spawn")) if args.client_procs > 1 else None
    if pool is not None:
        list(pool.map(_noop, range(args.client_procs)))

    from edgecv.bench import fingerprint, markdown_table
    from edgecv.utils.io import write_json

    tmp = tempfile.TemporaryDirectory(prefix="serve_load_")
    artifact = args.artifact or build_artifact(Path(tmp.name))
    env = fingerprint(args.threads)
    print(f"artifact {artifact}; {env['cpu']}, {env['cores_usable']} usable cores, load avg {env['load_avg_1m']}; "
          f"{args.clients} clients x {args.requests} requests per server and round, threads {args.threads}, "
          f"client {'wrk' if use_wrk else 'python'}", flush=True)

    bare = bare_runner(artifact, args.threads, args.max_batch, rounds=3)
    for name, r in bare.items():
        print(f"{name}: {r['throughput_ips']:.1f} images/s (p50 {r['latency_ms_p50']:.3f} ms, others busy {r['busy_other_pct']} %)", flush=True)

    queue_size = max(256, 2 * args.clients)  # each client has one request in flight: a full queue would be a bug
    modes = {"service, no batching": ["--max-batch", "1"],
             f"service, dynamic batching {args.max_batch} / {args.max_wait_ms:g} ms":
                 ["--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms)]}
    servers, results, exit_codes = {}, {}, {}
    try:
        for name, extra in modes.items():
            servers[name] = Server(name, artifact, args.threads, queue_size, extra)
        images = request_images()
        image_dir = Path(tmp.name) / "images"
        image_dir.mkdir()
        for i, data in enumerate(images):
            (image_dir / f"{i:03d}.png").write_bytes(data)
        payloads = {name: request_payloads(s.url.split("//")[1], images) for name, s in servers.items()}

        def phase(name: str, budget: int) -> dict:
            if use_wrk:
                return run_wrk(servers[name].url, image_dir, args.clients, budget, args.duration)
            return run_load(servers[name].url, payloads[name], args.clients, budget, args.duration, args.client_procs, pool)

        rss_before = {}
        for name, s in servers.items():  # warm-up at full concurrency: allocator pools, connections, lazy imports
            phase(name, max(args.warmup_requests, args.clients))
            rss_before[name] = s.rss_mb()
        phases = {name: [] for name in servers}
        names = list(servers)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:  # rotate who goes first
                res = phase(name, args.requests)
                phases[name].append(res)
                print(f"round {r + 1} {name}: {res['rps']:.1f} req/s, p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms, "
                      f"{res['errors']} errors, {res['rejected_4xx']} 4xx in {res['seconds']:.1f} s", flush=True)
        for name, s in servers.items():
            runs = phases[name]
            results[name] = {
                "name": name, "clients": args.clients, "requests": sum(x["requests"] for x in runs),
                "errors": sum(x["errors"] for x in runs), "rejected_4xx": sum(x["rejected_4xx"] for x in runs),
                "rps": _median([x["rps"] for x in runs]),  # the median round
                "p50_ms": _median([x["p50_ms"] for x in runs]), "p99_ms": _median([x["p99_ms"] for x in runs]),
                "mean_batch": s.mean_batch(), "rss_before_mb": rss_before[name], "rss_after_mb": s.rss_mb(),
            }
            if results[name]["rss_before_mb"] and results[name]["rss_after_mb"]:
                results[name]["rss_growth_pct"] = 100 * (results[name]["rss_after_mb"] / results[name]["rss_before_mb"] - 1)
    finally:
        for name, s in servers.items():
            exit_codes[name] = s.stop()
        if pool is not None:
            pool.shutdown()
        tmp.cleanup()

    b1 = bare["bare runner, batch 1"]["throughput_ips"]
    unbatched, batched = results[names[0]], results[names[1]]
    for row in results.values():
        row["vs_bare_b1"] = row["rps"] / b1 if row["rps"] and b1 else None
    batched["vs_unbatched"] = batched["rps"] / unbatched["rps"] if batched["rps"] and unbatched["rps"] else None
    rows = [{"name": n, "rps": r["throughput_ips"], "p50_ms": r["latency_ms_p50"], "p99_ms": r["latency_ms_p99"],
             "mean_batch": int(n.rsplit(" ", 1)[1])} for n, r in bare.items()] + list(results.values())
    print("\n" + markdown_table(rows, COLUMNS), end="")
    print("(bare runner rows: images/s of Predictor.logits alone; p50/p99 per call)")
    total = sum(r["requests"] for r in results.values())
    checks = [
        (f"0 errors at {args.clients} clients", all(r["errors"] == 0 for r in results.values())),
        (f"RSS growth < 10 % over {total:,} requests", all((r.get("rss_growth_pct") or 0) < 10 for r in results.values())),
        ("unbatched >= 70 % of the bare runner at batch 1", (unbatched["vs_bare_b1"] or 0) >= 0.7),
        ("dynamic batching >= 1.5x unbatched", (batched["vs_unbatched"] or 0) >= 1.5),
        ("servers exited 0 on SIGTERM", all(c == 0 for c in exit_codes.values())),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    print(f"load average now {os.getloadavg()[0]:.2f} on {env['cores_usable']} cores: numbers from a busy machine are not results")
    if args.json:
        record = {"environment": env, "args": {k: str(v) for k, v in vars(args).items()}, "bare_runner": bare,
                  "rows": rows, "checks": dict(checks), "server_exit_codes": exit_codes}
        print(f"wrote {write_json(args.json, record)}")
    return 0 if all(ok for _, ok in checks) else 1


def _median(values: list) -> float | None:
    import statistics

    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


if __name__ == "__main__":
    sys.exit(main())
