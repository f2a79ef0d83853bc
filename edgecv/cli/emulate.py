"""`edgecv emulate`: set up the emulated CPU targets `edgecv bench --emulate` and `emulate:` in a recipe use."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("emulate", help="set up or list the emulated CPU targets (QEMU) for accuracy checks",
                       description="Emulated targets check an artifact's accuracy on another CPU class on this "
                       "machine: QEMU 10 user-mode emulation (Debian trixie's qemu-user), Python 3.11 from Debian "
                       "bookworm's arm64 packages and the aarch64 wheels of ONNX Runtime, LiteRT and numpy, cached "
                       "under ~/.edgecv/emulate (or $EDGECV_HOME/emulate); x86-avx2 runs this Python and its runtimes "
                       "under qemu-x86_64. Set-up needs apt-get and dpkg-deb "
                       "(Debian/Ubuntu), Debian's archive and PyPI; nothing is installed into the system.")
    s = p.add_subparsers(dest="emulate_command", metavar="ACTION", required=True)
    setup = s.add_parser("setup", help="fetch and unpack what the classes need (once; later calls find it set up)")
    setup.add_argument("targets", nargs="*", default=["arm64"], metavar="CLASS",
                       help="arm64 (= arm64-a76), arm64-a53, arm64-a76, arm64-i8mm, x86-avx2 (default: arm64; the "
                       "arm64 classes share one set-up)")
    setup.set_defaults(func=_setup)
    status = s.add_parser("status", help="the classes, their QEMU CPU models and whether they are set up here")
    status.add_argument("--json", action="store_true", help="print the same as JSON")
    status.set_defaults(func=_status)


def _setup(args) -> int:
    from edgecv.app.emulate import parse_targets, setup_targets

    for m in setup_targets(parse_targets(args.targets), log=print):
        print(f"{m['arch']}: QEMU {m['qemu']}, Python {m['python']}, "
              + ", ".join(f"{k} {v}" for k, v in m["wheels"].items())
              + f"; {m['size_mb']:.0f} MB in {m['folder']}")
    return 0


def _status(args) -> int:
    import json

    from edgecv.app.emulate import emulation_status

    rows = emulation_status()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.table import Table

    from edgecv.utils.console import get_console

    t = Table(title="emulated targets (edgecv bench --emulate CLASS; arm64 = arm64-a76)")
    for col in ("class", "QEMU -cpu", "what it stands for", "set up"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["target"], r["qemu_cpu"], r["summary"],
                  f"yes, {r['size_mb']:.0f} MB (QEMU {r['qemu']})" if r["ready"] else "no: edgecv emulate setup")
    get_console().print(t)
    return 0
