"""Stage `evaluate`: its PyTorch latency runs with an explicit thread count and records the machine's load."""
import pytest
import yaml

import edgecv


@pytest.mark.parametrize("threads", [None, 1])
def test_torch_latency_uses_explicit_threads_and_records_other_load(tmp_path, threads):
    import torch

    from edgecv.bench.environment import usable_cores

    stage = {"type": "evaluate", **({"threads": threads} if threads else {})}
    recipe = {"name": "tiny", "data": {"source": "digits", "image_size": 32, "batch_size": 32, "workers": 0,
                                       "max_train": 40, "max_val": 20},
              "student": {"name": "mobilenetv3_small_050", "small_input": True}, "stages": [stage]}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    before = torch.get_num_threads()
    ctx = edgecv.run(path, out_dir=tmp_path / "run")
    (row,) = ctx.results
    assert row["backend"] == "torch" and row["latency_ms_p50"] > 0
    assert row["threads"] == (threads or usable_cores())  # never None: the count it was timed with
    from edgecv.utils.timing import _machine_busy_s

    if _machine_busy_s() is None:  # no /proc/stat (macOS, Windows)
        assert row["busy_other_pct"] is None
    else:
        assert 0 <= row["busy_other_pct"] <= 100
    assert torch.get_num_threads() == before  # the process's pool is restored after timing
