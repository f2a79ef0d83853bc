"""`edgecv info`: versions, CPU/GPU, and which backends work here (and what to install for the rest)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("info", help="versions, CPU/GPU and the usable backends",
                       description="Print library versions, the CPU and GPU, and for each backend whether it is "
                       "usable here or which pip extra installs it.")
    p.add_argument("--json", action="store_true", help="print the same as JSON")
    p.set_defaults(func=_info)


def backend_status() -> list[dict]:
    from edgecv.backends import BACKENDS

    out = []
    for name in BACKENDS.names():
        b = BACKENDS.get(name)
        ok, why = b.available()
        extra = getattr(b, "extra", "")
        out.append({"backend": name, "available": ok, "suffix": getattr(b, "suffix", ""),
                    "precisions": list(getattr(b, "precisions", ()) or ()),
                    "note": "" if ok else (why or (f"pip install 'edgecv[{extra}]'" if extra else "unavailable"))})
    return out


def _info(args) -> int:
    import json

    from edgecv.bench.environment import fingerprint

    env = fingerprint()
    backends = backend_status()
    if args.json:
        print(json.dumps({"environment": env, "backends": backends}, indent=2))
        return 0
    from rich.table import Table

    from edgecv.utils.console import get_console

    con = get_console()
    gpu = env.get("gpu")
    con.print(f"[bold]edgecv[/] {env['libraries'].get('edgecv', 'dev')}  Python {env['python']}  {env['os']}")
    con.print(f"CPU: {env['cpu']} ({env['cores_usable']} usable of {env['cpu_count']} cores, load {env['load_avg_1m']})")
    con.print(f"GPU: {gpu['name']} ({gpu['memory']}, driver {gpu['driver']})" if gpu else "GPU: none")
    if env.get("onnxruntime_providers"):
        con.print(f"onnxruntime providers: {', '.join(env['onnxruntime_providers'])}")
    con.print("libraries: " + ", ".join(f"{k} {v}" for k, v in env["libraries"].items()))
    t = Table(title="backends")
    for col in ("backend", "usable", "file", "precisions", "to enable"):
        t.add_column(col)
    for b in backends:
        t.add_row(b["backend"], "[green]yes[/]" if b["available"] else "[red]no[/]", b["suffix"],
                  ", ".join(b["precisions"]), b["note"])
    con.print(t)
    return 0
