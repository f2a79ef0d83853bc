import subprocess
import sys


def test_import_edgecv_stays_light():
    """`import edgecv` must not pull torch, timm or any backend."""
    code = ("import sys, edgecv; heavy = [m for m in ('torch', 'timm', 'onnx', 'onnxruntime', 'tensorrt', "
            "'ai_edge_litert', 'cv2', 'torch_pruning') if m in sys.modules]; print(heavy); assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
