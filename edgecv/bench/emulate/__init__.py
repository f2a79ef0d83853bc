"""Accuracy of an artifact on another CPU, checked on this machine under QEMU user-mode emulation.

    from edgecv.bench.emulate import prepare, benchmark_emulated
    prepare("arm64")                                   # once: cached under ~/.edgecv/emulate/arm64
    row = benchmark_emulated(artifact, "arm64-a53", EmulatedEval(data=evalset, reference_model=model, host_runner=runner))

The host decodes and preprocesses the images and scores the logits with the harness's own functions; an
aarch64 build of the artifact's runtime (ONNX Runtime, LiteRT) runs the model inside the emulated target
(worker.py). The row has top-1 and agreement, how many images' top-1 differ from the host's run of the
same file, and no latency: emulated time is not the target's time.
"""
from ...utils.lazy import lazy_getattr

_LAZY = {
    "EmulatedTarget": ("targets", "EmulatedTarget"),
    "TARGETS": ("targets", "TARGETS"),
    "target": ("targets", "target"),
    "target_names": ("targets", "names"),
    "EmulationSetupError": ("provision", "EmulationSetupError"),
    "prepare": ("provision", "prepare"),
    "find": ("provision", "find"),
    "EmulatedRunner": ("runner", "EmulatedRunner"),
    "EmulationError": ("runner", "EmulationError"),
    "benchmark_emulated": ("rows", "benchmark_emulated"),
    "EmulatedEval": ("rows", "EmulatedEval"),
    "emulated_rows": ("rows", "emulated_rows"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY)
