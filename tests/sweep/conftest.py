"""Shared by the sweep tests: the tiny digits recipe (a trial is a run of a few seconds), the sweep
command as a subprocess, and a look into a sweep's Optuna study."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("optuna", reason="the sweep tests need Optuna: pip install 'edgecv[sweep]'")

TINY = Path(__file__).with_name("tiny.yaml")
ROOT = Path(__file__).resolve().parents[2]
ATTEMPT = re.compile(r"^== attempt (\d+) by (\S+):(\d+) at ", re.M)


def sweep_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgecv", "sweep", str(TINY), *args]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(sweep_command(*args), cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def attempts(folder: Path) -> list[tuple[int, str]]:
    """(attempt, worker host:pid) for each start of the trial whose folder this is, from its log."""
    log = folder / "sweep-trial.log"
    if not log.is_file():
        return []
    return [(int(a), f"{h}:{p}") for a, h, p in ATTEMPT.findall(log.read_text())]


def study_trials(out: Path, storage: str | None = None, study: str | None = None):
    """Every Optuna trial of the sweep in `out` (its sweep.json names the study)."""
    import json

    import optuna

    from edgecv.sweep.storage import default_url, open_storage

    meta = json.loads((out / "sweep.json").read_text())
    handle = open_storage(storage or default_url(out))
    return optuna.load_study(study_name=study or meta["study"], storage=handle.optuna).get_trials(deepcopy=False)


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("EDGECV_TEST_POSTGRES")
    if not url:
        pytest.skip("EDGECV_TEST_POSTGRES is not set (.ci/run starts a PostgreSQL server on loopback and sets it)")
    pytest.importorskip("psycopg2", reason="PostgreSQL storage needs psycopg2: pip install 'edgecv[sweep]'")
    return url


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("EDGECV_TEST_REDIS")
    if not url:
        pytest.skip("EDGECV_TEST_REDIS is not set (e.g. redis://127.0.0.1:6379/0 of a throwaway redis-server)")
    pytest.importorskip("redis", reason="Redis storage needs the redis client: pip install 'edgecv[sweep]'")
    return url
