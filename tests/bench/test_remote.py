"""`edgecv bench --remote` for real: an OpenSSH server on 127.0.0.1 (Debian's openssh-server, which
.ci/run installs), run as the current user with keys generated here, and the same artifact benchmarked
through it and locally. The "remote" python is this venv's, so the target has edgecv."""
from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from edgecv.cli import main
from tests.bench.conftest import CIFAR_CLASSES
from tests.conftest import need_shared

FAST = ["--warmup", "1", "--min-runs", "3", "--min-time", "0", "--threads", "1"]
SSHD = shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd",) if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgecv-test", "-f", str(path)], check=True)
    return path


class Server:
    def __init__(self, root: Path):
        self.root, self.port, self.user = root, _free_port(), getpass.getuser()
        self.key = _keygen(root / "client_key")
        _keygen(root / "host_key")
        (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
        (root / "sshd_config").write_text(f"""
Port {self.port}
ListenAddress 127.0.0.1
HostKey {root}/host_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {self.user}
LogLevel ERROR
""")

    def start(self) -> None:
        if os.geteuid() == 0:  # root's sshd wants its privilege-separation folder
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.log = open(self.root / "sshd.log", "wb")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.root / "sshd_config")], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("sshd did not listen within 15 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def args(self, key: Path | None = None, port: int | None = None, python: str = sys.executable) -> list[str]:
        return ["--remote", f"{self.user}@127.0.0.1", "--remote-port", str(port or self.port),
                "--remote-key", str(key or self.key), "--remote-python", python,
                "--remote-ssh-opt", "StrictHostKeyChecking=no", "--remote-ssh-opt", "UserKnownHostsFile=/dev/null",
                "--remote-ssh-opt", "IdentitiesOnly=yes", "--remote-ssh-opt", "LogLevel=ERROR"]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt-get install openssh-client)")
    if SSHD is None:
        pytest.skip("sshd not installed (apt-get install openssh-server)")
    server = Server(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """The CIFAR ResNet-20 teacher as ONNX, its sidecar recording an edgecv model file as its source
    (the default parity reference), as `edgecv export` writes it."""
    from edgecv.backends.build import build_artifact
    from edgecv.models import create_model
    from edgecv.models.factory import save_model

    root = tmp_path_factory.mktemp("remote_art")
    model = create_model("cifar_resnet20", num_classes=10,
                         checkpoint=need_shared("teachers", "resnet20-12fca82f.th")).eval()
    source = save_model(model, root / "teacher20.pt")
    res = build_artifact("onnx", model, torch.zeros(1, 3, 32, 32), root / "build",
                         preprocess={"class_names": CIFAR_CLASSES})
    assert res.status == "ok", res.error
    art = res.artifact
    art.metadata.extra["source_checkpoint"] = str(source)
    art.save_metadata()
    return art


def _leftovers() -> set[Path]:
    """Remote temporary folders (the ssh session's TMPDIR may differ from ours)."""
    return {p for d in {"/tmp", tempfile.gettempdir()} for p in Path(d).glob("edgecv-bench-*")}


def test_remote_row_equals_local_run_and_carries_the_targets_fingerprint(sshd, artifact, cifar_small, tmp_path, capsys):
    cmap = tmp_path / "map.txt"  # goes along with --data
    cmap.write_text("# folder index\n" + "\n".join(f"{c} {i}" for i, c in enumerate(CIFAR_CLASSES)))
    common = [str(artifact.path), "--data", str(cifar_small), "--class-map", str(cmap), "--batch", "1,4", *FAST]
    local, remote = tmp_path / "local.json", tmp_path / "remote.json"
    before = _leftovers()

    assert main(["bench", *common, "--json", str(local)]) == 0, capsys.readouterr()
    rc = main(["bench", *common, *sshd.args(), "--json", str(remote), "--out", str(tmp_path / "ledger")])
    out = capsys.readouterr()
    assert rc == 0, out

    lrows, rrows = json.loads(local.read_text())["rows"], json.loads(remote.read_text())["rows"]
    assert [r["batch"] for r in rrows] == [1, 4] and all(r["status"] == "ok" for r in rrows)
    for lr, rr in zip(lrows, rrows):
        for key in ("top1", "top5", "top1_restricted", "agreement", "max_abs_diff", "images", "name", "backend",
                    "precision", "params", "macs", "size_mb"):
            assert rr[key] == lr[key], key
        assert rr["agreement"] is not None and rr["max_abs_diff"] is not None  # the source checkpoint went along
        assert rr["latency_ms_p50"] > 0 and rr["path"] == str(artifact.path)
        assert rr["remote"] == f"{sshd.user}@127.0.0.1"
    assert rrows[0]["top1"] > 70 and rrows[0]["top1_restricted"] is not None

    env = json.loads(remote.read_text())["environment"]
    assert env["remote"] == {"target": f"{sshd.user}@127.0.0.1", "python": sys.executable,
                             "edgecv": env["libraries"]["edgecv"]}
    assert env["threads"] == 1 and env["cpu"] and "jetson" in env and env["jetson"] is None  # not a Jetson
    # the ledger folder holds the same rows; the printed table is the local one
    assert json.loads((tmp_path / "ledger" / "results.json").read_text())["rows"] == rrows
    assert "| resnet" not in out.err and "| onnxruntime | fp32 |" in out.out
    assert f"copying {artifact.path.name}" in out.err and "running edgecv bench on" in out.err
    assert _leftovers() <= before  # the remote temporary folder is gone


def test_remote_power_with_tegrastats(sshd, artifact, tmp_path, capsys):
    """--tegrastats on the target, with a stand-in tegrastats printing JetPack 5 Orin Nano lines whose
    VDD_IN rises by 1 mW per 10 ms: idle samples (first) must read lower than the load window's."""
    fake = tmp_path / "tegrastats"
    fake.write_text(f"""#!{sys.executable}
import sys, time
ms = int(sys.argv[sys.argv.index("--interval") + 1])
t0 = time.monotonic()
while True:
    v = 4000 + int((time.monotonic() - t0) * 100)
    print("08-25-2023 10:15:32 RAM 2261/7620MB (lfb 1x4MB) SWAP 0/3810MB (cached 0MB) CPU [1%@729,0%@729] "
          "EMC_FREQ 0%@2133 GR3D_FREQ 0%@[305] VIC_FREQ 115 APE 200 tj@46.718C "
          f"VDD_IN {{v}}mW/{{v}}mW VDD_CPU_GPU_CV 597mW/597mW VDD_SOC 1395mW/1395mW", flush=True)
    time.sleep(ms / 1000)
""")
    fake.chmod(0o755)
    out = tmp_path / "power.json"
    rc = main(["bench", str(artifact.path), *FAST, *sshd.args(), "--tegrastats", "--tegrastats-cmd", str(fake),
               "--power-time", "1", "--json", str(out)])
    printed = capsys.readouterr()
    assert rc == 0, printed
    row = json.loads(out.read_text())["rows"][0]
    assert row["power_rail"] == "VDD_IN" and row["power_samples"] >= 5
    assert row["power_mw"] > row["power_mw_idle"] > 4000
    assert row["power_rails_mw"]["VDD_SOC"] == 1395.0
    assert row["energy_mj_per_image"] == pytest.approx(row["power_mw"] * row["power_seconds"] / row["power_images"], rel=1e-3)
    assert row["energy_mj_per_image_dynamic"] > 0
    assert "mJ per image" in printed.out and "(VDD_IN)" in printed.out


def _one_line_error(capsys, argv) -> str:
    rc = main(argv)
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert rc == 2, text
    assert "Traceback" not in text
    errors = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, text
    return errors[0]


def test_unreachable_target(sshd, artifact, capsys):
    closed = _free_port()  # nothing listens there
    msg = _one_line_error(capsys, ["bench", str(artifact.path), *FAST, *sshd.args(port=closed)])
    assert "cannot reach" in msg and "Connection refused" in msg and "--remote-port" in msg


def test_refused_key(sshd, artifact, tmp_path, capsys):
    other = _keygen(tmp_path / "other_key")
    msg = _one_line_error(capsys, ["bench", str(artifact.path), *FAST, *sshd.args(key=other)])
    assert "refused the SSH login" in msg and "ssh-copy-id" in msg and "--remote-key" in msg


def test_target_without_edgecv(sshd, artifact, tmp_path, capsys):
    """A fresh venv (no packages) as the remote python: the message says what to install there."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    msg = _one_line_error(capsys, ["bench", str(artifact.path), *FAST, *sshd.args(python=str(venv / "bin" / "python"))])
    assert "has no edgecv" in msg and "pip install 'edgecv[onnx]'" in msg and "--remote-python" in msg
    assert _one_line_error(capsys, ["bench", str(artifact.path), *FAST,
                                    *sshd.args(python=str(tmp_path / "nowhere" / "python"))]).count("no python at") == 1
    # edgecv's source on the path but none of its requirements: it is there, and does not import
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "edgecv_src.pth").write_text(str(Path(__file__).resolve().parents[2]) + "\n")
    msg = _one_line_error(capsys, ["bench", str(artifact.path), *FAST, *sshd.args(python=str(venv / "bin" / "python"))])
    assert "has edgecv but it does not import (ModuleNotFoundError: No module named" in msg and "pip install 'edgecv[onnx]'" in msg


def test_target_without_the_backends_extra(sshd, tmp_path, capsys):
    """An engine for a backend this target cannot run: the message names the extra to install there."""
    from edgecv.backends import BACKENDS

    if "tensorrt" not in BACKENDS.names() or BACKENDS.get("tensorrt").available()[0]:
        pytest.skip("needs the tensorrt backend registered and TensorRT absent")
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"not built here")
    msg = _one_line_error(capsys, ["bench", str(engine), *FAST, *sshd.args()])
    assert "cannot run the 'tensorrt' backend" in msg and "pip install 'edgecv[tensorrt]'" in msg


def test_upload_plan_points_the_sidecar_at_the_copied_source(artifact, cifar_small):
    """The sidecar sent along names the source checkpoint's copy in the remote folder (relative), so the
    target checks parity against the same model the local run uses."""
    from edgecv.app.remote import _plan_upload

    up, args = _plan_upload(artifact, cifar_small, None, None)
    side = json.loads(up.generated[artifact.sidecar().name])
    src = Path(artifact.metadata.extra["source_checkpoint"])
    assert side["extra"]["source_checkpoint"] == f"reference/{src.name}"
    assert up.files == {artifact.path.name: artifact.path, f"reference/{src.name}": src, "data": cifar_small}
    assert args == ["--data", "data"]
    ref_up, ref_args = _plan_upload(artifact, None, None, src)  # --reference wins over the recorded source
    assert ref_args == ["--reference", f"reference/{src.name}"]
    assert json.loads(ref_up.generated[artifact.sidecar().name])["extra"]["source_checkpoint"] == str(src)


@pytest.fixture(scope="module")
def openvino_ir(tmp_path_factory):
    """The ResNet-20 teacher as an OpenVINO IR: two files, model.xml and its weights model.bin."""
    from edgecv.backends.build import build_artifact
    from edgecv.models import create_model

    model = create_model("cifar_resnet20", num_classes=10, checkpoint=need_shared("teachers", "resnet20-12fca82f.th")).eval()
    res = build_artifact("openvino", model, torch.zeros(1, 3, 32, 32), tmp_path_factory.mktemp("remote_ov"),
                         preprocess={"class_names": CIFAR_CLASSES})
    if res.status == "skipped":
        pytest.skip(res.error)
    assert res.status == "ok", res.error
    return res.artifact


def test_upload_plan_sends_the_weights_beside_an_ir(openvino_ir):
    """An artifact of several files (OpenVINO's .xml and .bin) goes whole, under the same names."""
    from edgecv.app.remote import _plan_upload

    up, _ = _plan_upload(openvino_ir, None, None, None)
    xml = openvino_ir.path
    assert up.files == {xml.name: xml, xml.with_suffix(".bin").name: xml.with_suffix(".bin")}
    assert set(up.generated) == {openvino_ir.sidecar().name}


def test_remote_openvino_row_equals_the_local_one(sshd, openvino_ir, cifar_small, tmp_path, capsys):
    common = [str(openvino_ir.path), "--data", str(cifar_small), *FAST]
    local, remote = tmp_path / "local.json", tmp_path / "remote.json"
    assert main(["bench", *common, "--json", str(local)]) == 0, capsys.readouterr()
    rc = main(["bench", *common, *sshd.args(), "--json", str(remote)])
    assert rc == 0, capsys.readouterr()
    lrow, rrow = json.loads(local.read_text())["rows"][0], json.loads(remote.read_text())["rows"][0]
    assert rrow["status"] == "ok" and rrow["backend"] == "openvino"
    for key in ("top1", "top5", "size_mb", "precision", "images"):
        assert rrow[key] == lrow[key], key
    assert rrow["size_mb"] > 1.0  # the weights went along (the .xml alone is a few kB)
