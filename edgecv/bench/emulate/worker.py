"""Runs one model file inside the emulated target: standard library + numpy + the runtime only.

    qemu-aarch64 -L ROOT -cpu cortex-a76 ROOT/usr/bin/python3.11 -I worker.py SITE MODEL RUNTIME THREADS
    qemu-x86_64 -cpu Haswell-noTSX HOST_PYTHON -I worker.py "" MODEL RUNTIME THREADS

It is started by edgecv on the host (edgecv.bench.emulate.runner) and never imports edgecv, torch or
anything else of the host. The host does the preprocessing and the input/output conversions; this
script only feeds the runtime the tensors it is sent and returns the runtime's raw outputs.

Protocol, binary over stdin/stdout (stdout is reserved for it; anything a runtime prints goes to stderr):
- on start, one JSON line: {"ready": true, "runtime": ..., "version": ..., "machine": ..., "cpu": {...}}
  or {"ready": false, "error": "..."};
- then, per request: the host writes one JSON line {"dtype": "float32", "shape": [n, ...]} and the array's
  bytes (C order): the runtime's input tensor for a batch. The script answers with the raw output the same
  way, its JSON line also saying {"ok": true}, or with one line {"ok": false, "error": "..."}.
- the host closing stdin ends it.
"""
import json
import os
import platform
import struct
import sys

AT_HWCAP, AT_HWCAP2 = 16, 26


def cpu_facts():
    """What the (emulated) CPU tells a program: /proc/cpuinfo's features and part, and the HWCAP words."""
    facts = {"machine": platform.machine()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "features" and "features" not in facts:  # Arm's list (x86 calls its own "flags")
                    facts["features"] = value.split()
                elif key == "cpu part" and "part" not in facts:
                    facts["part"] = value.strip()
    except OSError:
        pass
    if "features" not in facts and facts["machine"] in ("x86_64", "AMD64"):
        # qemu-x86_64 shows the host's /proc/cpuinfo; CPUID is emulated, and numpy reads it (names as numpy's)
        try:
            from numpy._core._multiarray_umath import __cpu_features__
        except ImportError:
            try:
                from numpy.core._multiarray_umath import __cpu_features__
            except ImportError:
                __cpu_features__ = {}
        facts["features"] = sorted(k.lower() for k, v in __cpu_features__.items() if v)
        facts["features_from"] = "cpuid (numpy)"
    try:
        with open("/proc/self/auxv", "rb") as f:
            auxv = f.read()
        for i in range(0, len(auxv) - 15, 16):
            key, value = struct.unpack("<QQ", auxv[i:i + 16])
            if key == AT_HWCAP:
                facts["hwcap"] = hex(value)
            elif key == AT_HWCAP2:
                facts["hwcap2"] = hex(value)
    except OSError:
        pass
    return facts


class OrtModel:
    def __init__(self, path, threads):
        import onnxruntime as ort

        opts = ort.SessionOptions()  # as the host's backend opens it (edgecv.backends.onnxruntime.runner)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.runtime, self.version = "onnxruntime", ort.__version__

    def __call__(self, x):
        return self.session.run(None, {self.input: x})[0]


class LiteRTModel:
    def __init__(self, path, threads):
        import ai_edge_litert
        from ai_edge_litert import interpreter

        self.interp = interpreter.Interpreter(model_path=path, num_threads=threads)  # XNNPACK, as on the host
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]
        self.out = self.interp.get_output_details()[0]
        sig = list(self.inp.get("shape_signature", self.inp["shape"]))
        self.dynamic = bool(sig) and sig[0] == -1
        self.batch = int(self.inp["shape"][0])
        self.runtime = "ai-edge-litert"
        self.version = getattr(ai_edge_litert, "__version__", None) or _dist_version("ai-edge-litert")

    def __call__(self, x):
        import numpy as np

        if not self.dynamic and len(x) != self.batch:  # a fixed batch: one invoke per chunk, as the host runner does
            return np.concatenate([self(x[i:i + self.batch]) for i in range(0, len(x), self.batch)])
        if self.dynamic and len(x) != self.batch:
            self.interp.resize_tensor_input(self.inp["index"], list(x.shape))
            self.interp.allocate_tensors()
            self.batch = len(x)
        self.interp.set_tensor(self.inp["index"], x)
        self.interp.invoke()
        return self.interp.get_tensor(self.out["index"]).copy()


def _dist_version(name):
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


RUNTIMES = {"onnxruntime": OrtModel, "litert": LiteRTModel}


def _send(out, header, array=None):
    if array is not None:
        header = {**header, "dtype": array.dtype.str, "shape": list(array.shape)}
    out.write((json.dumps(header) + "\n").encode())
    if array is not None:
        out.write(array.tobytes(order="C"))
    out.flush()


def _receive(stdin, np):
    """The next array from the host, or None at the end of its input."""
    line = stdin.readline()
    if not line:
        return None
    header = json.loads(line)
    dtype = np.dtype(header["dtype"])
    n = int(np.prod(header["shape"], dtype=np.int64)) * dtype.itemsize
    data = stdin.read(n)
    if len(data) != n:
        return None
    return np.frombuffer(data, dtype).reshape(header["shape"])


def main(argv):
    site, model, runtime, threads = argv[1], argv[2], argv[3], int(argv[4])
    out = os.fdopen(os.dup(1), "wb")  # the protocol's channel; fd 1 now goes to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if site:  # the target's wheels; an x86-64 target runs the host's own (already on the path)
        sys.path.insert(0, site)
    try:
        import numpy as np

        run = RUNTIMES[runtime](model, threads)
    except BaseException as e:  # a missing wheel, a file the runtime refuses: one line for the host
        _send(out, {"ready": False, "error": f"{type(e).__name__}: {e}".strip().splitlines()[0][:300]})
        return 1
    _send(out, {"ready": True, "runtime": run.runtime, "version": run.version, "numpy": np.__version__,
                "python": platform.python_version(), "cpu": cpu_facts()})
    stdin = sys.stdin.buffer
    while True:
        x = _receive(stdin, np)
        if x is None:
            return 0
        try:
            y = run(x)
        except Exception as e:
            _send(out, {"ok": False, "error": f"{type(e).__name__}: {e}".strip().splitlines()[0][:300]})
            continue
        _send(out, {"ok": True}, np.ascontiguousarray(y))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
