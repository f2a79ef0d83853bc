"""The REST inference service over a Predictor (the `serve` extra).

    from edgecv.app import Predictor
    from edgecv.serve import ServeSettings, create_app, run_server
    settings = ServeSettings(port=8000, max_batch=8, max_wait_ms=2)
    run_server(create_app(Predictor("model.onnx", threads=2), settings), settings)

One module per job: `settings` (the knobs, validated), `decoding` (bytes -> image, with limits),
`uploads` (what a request body may be), `batcher` (the bounded queue and the dynamic batcher),
`classifier` (images -> top-k through the batcher), `budget` (the byte budgets that bound memory),
`limits` (the body-size cap), `metrics` (Prometheus), `schemas` (the JSON answers), `app` (the
FastAPI app), `connections` (timeouts and connection caps), `server` (uvicorn).
Importing this package imports none of fastapi, uvicorn or prometheus-client; its names load on use,
and a missing extra says what to install.
"""
from __future__ import annotations

from importlib.util import find_spec

from ..utils.lazy import lazy_getattr

# import name -> the distribution that provides it (all in the `serve` extra)
SERVE_REQUIREMENTS = {"fastapi": "fastapi", "uvicorn": "uvicorn", "httptools": "httptools (uvicorn[standard])",
                      "multipart": "python-multipart", "prometheus_client": "prometheus-client"}

_LAZY = {
    "ServeSettings": ("settings", "ServeSettings"),
    "create_app": ("app", "create_app"),
    "run_server": ("server", "run_server"),
    "build_server": ("server", "build_server"),
    "bind_socket": ("server", "bind_socket"),
    "DynamicBatcher": ("batcher", "DynamicBatcher"),
    "decode_image": ("decoding", "decode_image"),
}


def require_serve_extra() -> None:
    """Raise ImportError naming what to install when a library of the `serve` extra is missing."""
    missing = [dist for mod, dist in SERVE_REQUIREMENTS.items() if find_spec(mod) is None]
    if missing:
        raise ImportError(f"the REST service needs {', '.join(missing)}: pip install 'edgecv[serve]'")


_lazy = lazy_getattr(__name__, _LAZY)


def __getattr__(name: str):
    if name in _LAZY and _LAZY[name][0] not in ("settings", "batcher", "decoding"):  # these three need no web library
        require_serve_extra()
    return _lazy(name)


__all__ = [*_LAZY, "require_serve_extra"]
