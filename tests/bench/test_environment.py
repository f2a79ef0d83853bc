from edgecv.bench.environment import fingerprint


def test_fingerprint_names_the_machine_and_libraries():
    env = fingerprint(threads=2)
    assert env["cpu"] and env["cores_usable"] >= 1 and env["threads"] == 2
    assert {"torch", "numpy", "onnxruntime"} <= set(env["libraries"])
    assert "gpu" in env  # None on a machine without an NVIDIA GPU
