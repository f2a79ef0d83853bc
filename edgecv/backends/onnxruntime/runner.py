"""ONNX Runtime sessions (providers in order of preference) and the runner over one."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...utils.errors import first_line
from ..base import Artifact, FunctionRunner, Runner
from ..layout import input_adapter

# Preferred order; only the providers the installed onnxruntime has are used.
# EDGECV_ORT_PROVIDERS=CPUExecutionProvider (comma-separated) overrides it.
PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def session_runner(artifact: Artifact, threads: int | None = None) -> Runner:
    """NCHW float32 batch -> logits through a session, adapting layout and dtype to the file's input."""
    sess = open_session(artifact.path, threads)
    inp = sess.get_inputs()[0]
    meta = artifact.metadata
    adapt = input_adapter(meta.layout, meta.input_dtype, meta.mean, meta.std)
    run_session, name = sess.run, inp.name
    if adapt is None:  # the common case stays a single call: nothing between the harness and ORT
        def run(x: np.ndarray) -> np.ndarray:
            return run_session(None, {name: x})[0]
    else:
        def run(x: np.ndarray) -> np.ndarray:
            return run_session(None, {name: adapt(x)})[0]
    return FunctionRunner(run, {"provider": sess.get_providers()[0], "threads": threads, "session": sess})


def providers() -> list[str]:
    import onnxruntime as ort

    wanted = os.environ.get("EDGECV_ORT_PROVIDERS")
    order = [p.strip() for p in wanted.split(",")] if wanted else list(PROVIDER_ORDER)
    have = set(ort.get_available_providers())
    chosen = [p for p in order if p in have]
    return chosen or ["CPUExecutionProvider"]


def open_session(path: str | Path, threads: int | None = None):
    """An InferenceSession with full graph optimisation; errors name the file."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads:
        opts.intra_op_num_threads = int(threads)
    # fatal only: an error reaches the caller as the exception (edgecv prints it as one line); ORT's own
    # log line would repeat it raw above that; warnings about unused initialisers are noise here
    opts.log_severity_level = 4
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers())
    except Exception as e:  # InvalidProtobuf, NoSuchFile, Fail: ORT's own exception types
        raise ValueError(f"{path} is not a loadable ONNX model: {first_line(e)}") from None
