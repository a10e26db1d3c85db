"""The errors of ``worldmodels``: a checkpoint that is not what its format says, and a
training run that meets a non-finite loss."""

from __future__ import annotations

from pathlib import Path


class CheckpointError(ValueError):
    """A checkpoint file or field that is missing, unreadable, corrupted or out of range.

    Attributes:
        path: the file.
        field: the field or tensor (``action_std``, ``predictor.token_dim``, ``file``, ...).
    """

    def __init__(self, path: str | Path, field: str, problem: str) -> None:
        self.path = Path(path)
        self.field = field
        super().__init__(f"{path}: {field}: {problem}")


class NonFiniteLossError(FloatingPointError):
    """A training step whose loss (or gradient norm) is NaN or infinite.

    Attributes:
        step: the index of the step (0-based) that met it; nothing of it was applied.
    """

    def __init__(self, step: int, message: str) -> None:
        self.step = step
        super().__init__(message)
