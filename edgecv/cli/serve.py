"""`edgecv serve ARTIFACT`: a REST classification service over any artifact (FastAPI under uvicorn)."""
from __future__ import annotations

import argparse


def register(sub) -> None:
    from .args import positive_int

    p = sub.add_parser(
        "serve",
        help="serve an artifact over HTTP: POST /v1/classify, dynamic batching, Prometheus metrics",
        description="Load ARTIFACT (.onnx, .tflite, an edgecv .pt, ...) once and classify images sent over "
        "HTTP: POST /v1/classify (one image, raw or multipart `file`), POST /v1/classify/batch (multipart "
        "`files`), GET /healthz, /readyz, /metrics, /docs. Preprocessing and class names come from the "
        "artifact's metadata, exactly as in `edgecv bench`. A full queue answers 503 with Retry-After; "
        "SIGTERM or Ctrl-C finishes queued requests, then exits. Needs the serve extra: pip install 'edgecv[serve]'.",
    )
    p.add_argument("artifact", help="the model file to serve")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    p.add_argument("--max-batch", type=positive_int, default=1, metavar="B",
                   help="dynamic batching: run up to B queued images in one runner call (default 1: off)")
    p.add_argument("--max-wait-ms", type=_non_negative_float, metavar="T",
                   help="with --max-batch > 1: how long the oldest queued image may wait for a batch to fill (default 2)")
    p.add_argument("--max-body-mb", type=_positive_float, default=10.0, metavar="M",
                   help="largest request body in MiB; larger ones get 413 before they are read (default 10)")
    p.add_argument("--queue-size", type=positive_int, default=256, metavar="N",
                   help="images that may wait for the runner; beyond it requests get 503 + Retry-After (default 256)")
    p.add_argument("--decode-budget-mb", type=_positive_float, default=512.0, metavar="M",
                   help="memory for decoding images, all requests together: an image that alone needs more gets 413, "
                   "a request that waits over 5 s for it 503 (default 512; see the README for the RSS bound)")
    p.add_argument("--max-connections", type=positive_int, default=4096, metavar="N",
                   help="open connections; at the cap the one idle longest is closed, else 503 (default 4096)")
    p.add_argument("--max-connections-per-client", type=int, default=64, metavar="N",
                   help="open connections from one client address; 0: no cap (behind a reverse proxy, which "
                   "gives every client its own address) (default 64)")
    p.add_argument("--header-timeout", type=_positive_float, default=10.0, metavar="S",
                   help="seconds a connection has to send a request's headers (default 10)")
    p.add_argument("--body-timeout", type=_positive_float, default=30.0, metavar="S",
                   help="seconds it then has to send the body (default 30)")
    p.add_argument("--threads", type=positive_int, help="the runner's intra-op threads (default: the library's choice)")
    p.add_argument("--class-names", metavar="FILE", help="what the outputs are called (one name per line, or a JSON "
                   "list), instead of the artifact's own names (files exported without data have none)")
    p.add_argument("--access-log", action="store_true", help="log every request (off by default: it costs throughput)")
    p.set_defaults(func=_serve)


def _serve(args) -> int:
    from edgecv.cli import UserError
    from edgecv.serve import require_serve_extra

    if args.max_wait_ms is not None and args.max_batch == 1:
        raise UserError("--max-wait-ms needs --max-batch > 1 (with --max-batch 1 every image runs alone)")
    require_serve_extra()
    from pydantic import ValidationError

    from edgecv.app import Predictor
    from edgecv.serve import ServeSettings, bind_socket, create_app, run_server
    from edgecv.utils.errors import first_line

    try:
        settings = ServeSettings(host=args.host, port=args.port, max_batch=args.max_batch,
                                 max_wait_ms=2.0 if args.max_wait_ms is None else args.max_wait_ms,
                                 max_body_mb=args.max_body_mb, queue_size=args.queue_size,
                                 max_images_per_request=min(32, args.queue_size), access_log=args.access_log,
                                 decode_budget_mb=args.decode_budget_mb, body_budget_mb=max(256.0, args.max_body_mb),
                                 max_connections=args.max_connections,
                                 max_connections_per_client=args.max_connections_per_client,
                                 header_timeout_s=args.header_timeout, body_timeout_s=args.body_timeout)
    except ValidationError as e:
        raise UserError(f"invalid setting: {e.errors()[0]['loc'][0]}: {e.errors()[0]['msg']}") from None
    sock = bind_socket(settings.host, settings.port)  # a busy port fails before the model is loaded
    try:
        try:
            predictor = Predictor(args.artifact, threads=args.threads, class_names=args.class_names)
        except (UserError, ValueError, KeyError, FileNotFoundError, ImportError):
            raise
        except Exception as e:  # a runtime's own exception types: one line, no traceback
            raise UserError(f"loading {args.artifact} failed: {first_line(e)}") from None
        app = create_app(predictor, settings)
        host, port = sock.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host  # IPv6
        batching = (f"dynamic batching up to {settings.max_batch} within {settings.max_wait_ms:g} ms"
                    if settings.batching else "no batching")
        print(f"serving {predictor.name} ({predictor.artifact.backend}, {predictor.artifact.metadata.precision}) "
              f"on http://{host}:{port} ({batching}); docs at /docs; Ctrl-C stops", flush=True)
        run_server(app, settings, sock)
    finally:
        sock.close()
    print("stopped", flush=True)
    return 0


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
