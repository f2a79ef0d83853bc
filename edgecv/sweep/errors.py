"""The sweep's user-facing error: one line that says what is wrong and, where it helps, what to do."""
from __future__ import annotations


class SweepError(ValueError):
    """Bad sweep input (a key, a value, a range, an objective, a storage URL): raised before any trial runs."""


def optuna_missing() -> SweepError:
    return SweepError("sweeps need Optuna: pip install 'edgecv[sweep]'")


def import_optuna():
    """`optuna`, or a SweepError saying which extra installs it."""
    try:
        import optuna
    except ImportError:
        raise optuna_missing() from None
    return optuna
