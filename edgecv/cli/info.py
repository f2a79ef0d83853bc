"""`edgecv info`: versions, CPU/GPU, and which backends work here (and what to install for the rest)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("info", help="versions, CPU/GPU and the usable backends",
                       description="Print library versions, the CPU and GPU, and for each backend whether it is "
                       "usable here or which pip extra installs it.")
    p.add_argument("--json", action="store_true", help="print the same as JSON")
    p.set_defaults(func=_info)


def extra_packages(extra: str) -> list[str]:
    """The distributions a pip extra installs, from edgecv's metadata (`name; extra == "tensorrt"` lines)."""
    import re
    from importlib.metadata import PackageNotFoundError, requires

    try:
        reqs = requires("edgecv") or []
    except PackageNotFoundError:
        reqs = []
    names = [re.match(r"[A-Za-z0-9_.\-]+", r)[0] for r in reqs
             if re.search(r"""extra\s*==\s*["']""" + re.escape(extra) + r"""["']""", r)]
    return list(dict.fromkeys(names))  # empty where edgecv is not installed (a bare source tree)


def package_installed(dist: str) -> bool:
    """Whether a distribution is installed (its metadata), else whether its import name is findable."""
    import importlib.util
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution(dist)
        return True
    except PackageNotFoundError:
        pass
    try:
        spec = importlib.util.find_spec(dist.replace("-", "_").lower())
        return spec is not None and spec.origin is not None  # a folder of type stubs alone imports as a namespace
    except (ImportError, ValueError):
        return False


def backend_status() -> list[dict]:
    """Every backend edgecv knows: the registered ones, and those of a backend extra whose edgecv module
    is not part of this version (TensorRT), each with why it is unusable and the extra to install."""
    from edgecv.backends import BACKENDS, UNSHIPPED_BACKENDS
    from edgecv.utils.versions import edgecv_version

    out = []
    for name in BACKENDS.names():
        b = BACKENDS.get(name)
        ok, why = b.available()
        extra = b.extra
        install = f"pip install 'edgecv[{extra}]'" if extra else ""
        note = "" if ok else (why or "unavailable")
        if not ok and install and install not in note:
            note += f"; {install}"
        out.append({"backend": name, "available": ok, "suffix": b.suffix,
                    "precisions": [p for p, why_not in b.buildable().items() if not why_not], "extra": extra or None,
                    "precision_notes": {n: p.summary for n, p in b.precisions.items() if p.summary},
                    "install": install or None, "in_this_version": True,
                    "packages": {p: package_installed(p) for p in (extra_packages(extra) if extra else [])},
                    "note": note})
    for name, extra in UNSHIPPED_BACKENDS.items():
        packages = {p: package_installed(p) for p in extra_packages(extra)}
        missing = [p for p, ok in packages.items() if not ok]
        install = f"pip install 'edgecv[{extra}]'"
        state = (f"{', '.join(missing)} not installed: {install}" if missing
                 else f"its packages ({', '.join(packages)}) are installed")
        out.append({"backend": name, "available": False, "suffix": "", "precisions": [], "extra": extra,
                    "install": install, "in_this_version": False, "packages": packages,
                    "note": f"edgecv's {name} backend is not part of this version (edgecv {edgecv_version()}); {state}"})
    return out


def cpu_lines() -> list[str]:
    """This CPU's kernel-deciding features (present and absent), what they mean for INT8, and the build targets."""
    from edgecv.targets import KERNEL_FEATURES, TARGET_NAMES, host_target

    host = host_target()
    known = KERNEL_FEATURES.get(host.arch, {})
    absent = [f for f in known if f not in host.features]
    lines = [f"CPU features ({host.arch}, the ones that decide quantized kernels): {' '.join(host.features) or 'none'}"
             + (f"; absent: {' '.join(absent)}" if absent else "")]
    if host.int8_saturates:
        lines.append("INT8: no VNNI, so ONNX Runtime's u8 x s8 kernels saturate int16 with 8-bit weights; "
                     "builds for this host get 7-bit weights (--target x86-vnni builds 8-bit for VNNI machines)")
    elif host.vnni:
        lines.append("INT8: VNNI, so 8-bit weights run exactly here; build with --target x86-avx2 for x86 without VNNI")
    lines.append(f"build targets (export/quantize --target): {', '.join(TARGET_NAMES)}")
    return lines


def _info(args) -> int:
    import json

    from edgecv.bench.environment import fingerprint

    env = fingerprint()
    backends = backend_status()
    if args.json:
        print(json.dumps({"environment": env, "backends": backends}, indent=2))
        return 0
    from rich.table import Table
    from rich.text import Text

    from edgecv.utils.console import get_console

    con = get_console()
    gpu = env.get("gpu")
    con.print(f"[bold]edgecv[/] {env['libraries'].get('edgecv', 'dev')}  Python {env['python']}  {env['os']}")
    con.print(f"CPU: {env['cpu']} ({env['cores_usable']} usable of {env['cpu_count']} cores, load {env['load_avg_1m']})")
    for line in cpu_lines():
        con.print(line, markup=False, highlight=False)
    con.print(f"GPU: {gpu['name']} ({gpu['memory']}, driver {gpu['driver']})" if gpu else "GPU: none")
    if env.get("onnxruntime_providers"):
        con.print(f"onnxruntime providers: {', '.join(env['onnxruntime_providers'])}")
    con.print("libraries: " + ", ".join(f"{k} {v}" for k, v in env["libraries"].items()))
    t = Table(title="backends")
    for col in ("backend", "usable", "file", "precisions", "to enable"):
        t.add_column(col)
    for b in backends:  # the note is plain text: "pip install 'edgecv[tensorrt]'" must keep its [tensorrt]
        t.add_row(b["backend"], "[green]yes[/]" if b["available"] else "[red]no[/]", b["suffix"],
                  ", ".join(b["precisions"]), Text(b["note"]))
    con.print(t)
    return 0
