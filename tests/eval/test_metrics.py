import numpy as np

from edgecv.eval.metrics import accuracy_metrics


def test_top1_top5_per_class_confusion():
    logits = np.array([[9, 1, 0, 0, 0, 0], [0, 9, 8, 0, 0, 0], [0, 9, 8, 0, 0, 0], [1, 2, 3, 4, 5, 6]], dtype=np.float32)
    targets = np.array([0, 1, 2, 0])
    m = accuracy_metrics(logits, targets)
    assert m["top1"] == 50.0
    assert m["top5"] == 75.0  # the last row ranks class 0 sixth
    assert m["confusion"][2, 1] == 1 and m["confusion"][0, 0] == 1 and m["confusion"][0, 5] == 1
    assert m["per_class"][:3] == [50.0, 100.0, 0.0]
