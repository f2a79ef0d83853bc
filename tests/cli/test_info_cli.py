import json

from edgecv.cli import main


def test_info_lists_backends_and_versions(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    status = {b["backend"]: b for b in data["backends"]}
    assert status["torch"]["available"] and status["onnxruntime"]["available"]
    assert all(b["available"] or "pip install" in b["note"] or b["note"] for b in data["backends"])
    assert data["environment"]["libraries"]["torch"] and data["environment"]["cpu"]
    assert main(["info"]) == 0
    assert "backends" in capsys.readouterr().out
