"""Training settings as recipes write them: YAML reads a bare `off` as False, which still means amp off."""
from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from edgecv.train.spec import TrainSpec


def test_yaml_off_means_amp_off():
    assert TrainSpec(**yaml.safe_load("amp: off")).amp == "off"
    assert TrainSpec(**yaml.safe_load("amp: bf16")).amp == "bf16"


def test_other_booleans_are_still_refused():
    with pytest.raises(ValidationError, match="amp"):
        TrainSpec(amp=True)
