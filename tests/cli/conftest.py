from tests.bench.conftest import cifar_small, onnx20, teacher20  # noqa: F401  (shared fixtures)
