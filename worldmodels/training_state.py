"""Training state saved atomically every K steps, so a killed run resumes exactly.

One safetensors file holds the model's and the optimiser's tensors and the states of the
run's torch generators (``get_state()``, uint8 tensors); its metadata holds the rest as JSON
(step, the optimiser's hyper-parameters, the data sampler's random state, the log). It is
written to a temporary file and renamed, so a kill leaves either the previous checkpoint or
the new one, never a torn mix. Nothing is unpickled on load.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from worldmodels.atomic import atomic_write
from worldmodels.errors import CheckpointError

logger = logging.getLogger(__name__)


@dataclass
class TrainingState:
    """What a resumed run needs besides the model and optimiser tensors.

    Attributes:
        step: optimiser steps done.
        rng_state: the numpy sampler's `bit_generator.state`.
        log: log rows so far.
        generator_states: name -> (S,) uint8 state of each saved torch generator.
        settings: the training settings the run was started with (None in older files).
    """

    step: int
    rng_state: dict[str, Any]
    log: list[dict[str, float]]
    generator_states: dict[str, torch.Tensor] = field(default_factory=dict)
    settings: dict[str, Any] | None = None


def save_training_state(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    step: int,
    log: list[dict[str, float]],
    generators: Mapping[str, torch.Generator] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Writes the training state to `path` atomically.

    Args:
        path: the checkpoint file (`.safetensors`).
        model: the model being trained, with every module and buffer a resumed run needs.
        optimizer: its optimiser.
        rng: the sampler of training batches.
        step: optimiser steps done.
        log: log rows so far.
        generators: torch generators of the run (augmentations), by name.
        settings: the run's training settings (JSON values), checked on resume.
    """
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    for name, generator in (generators or {}).items():
        tensors[f"generator.{name}"] = generator.get_state()
    optim = optimizer.state_dict()
    for index, state in optim["state"].items():
        for name, value in state.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value).contiguous()
    meta = {
        "step": step,
        "rng_state": rng.bit_generator.state,
        "log": log,
        "param_groups": optim["param_groups"],
        "settings": None if settings is None else dict(settings),
    }
    metadata = {"wmplan_training_state": json.dumps(meta)}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_training_state(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> TrainingState:
    """Restores the model and optimiser from `path` and returns the rest.

    Args:
        path: a file written by `save_training_state`.
        model: the model, of the same architecture; loaded strictly.
        optimizer: its optimiser, over the same parameters.

    Returns:
        The `TrainingState`.

    Raises:
        CheckpointError: the file is unreadable (truncated, corrupted) or not a training state;
            the message names it and says how to start over.
    """
    restart = f"delete {path} to train from the start"
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get("wmplan_training_state")
        if raw is None:
            raise CheckpointError(
                path,
                "metadata",
                f"not a wmplan training state (no wmplan_training_state metadata); {restart}",
            )
        meta = json.loads(raw)
        tensors = load_file(str(path), device=str(next(model.parameters()).device))
    except (SafetensorError, OSError, json.JSONDecodeError) as err:
        raise CheckpointError(path, "file", f"unreadable ({err}); {restart}") from err
    model.load_state_dict(
        {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")},
        strict=True,
    )
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    generator_states = {
        k.removeprefix("generator."): v.cpu()
        for k, v in tensors.items()
        if k.startswith("generator.")
    }
    return TrainingState(
        meta["step"], meta["rng_state"], meta["log"], generator_states, meta.get("settings")
    )


def resume_training(
    path: Path | None,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    generators: Mapping[str, torch.Generator] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> tuple[int, list[dict[str, float]]]:
    """Restores a run from its training state at `path`, if there is one.

    Args:
        path: the checkpoint file, or None for a run without checkpoints.
        model, optimizer: restored in place.
        rng: the batch sampler, restored in place.
        generators: torch generators, by name, restored in place.
        settings: this run's training settings; a state saved with other settings is
            refused, since resuming it would mix two runs (a state without any is accepted).

    Returns:
        The step to start from and the log so far: (0, []) when there is nothing to resume.

    Raises:
        CheckpointError: the state was saved with other settings (the message names them).
    """
    if path is None or not path.exists():
        return 0, []
    state = load_training_state(path, model, optimizer)
    if settings is not None and state.settings is not None:
        settings = json.loads(json.dumps(settings))  # as saved: tuples become lists
        changed = sorted(
            key
            for key in set(settings) | set(state.settings)
            if settings.get(key) != state.settings.get(key)
        )
        if changed:
            diff = ", ".join(
                f"{k}: {state.settings.get(k)!r} -> {settings.get(k)!r}" for k in changed
            )
            raise CheckpointError(
                path,
                "settings",
                f"saved by a run with other settings ({diff}); rerun with the saved settings "
                f"to resume it, or delete {path} to train from the start",
            )
    rng.bit_generator.state = state.rng_state
    for name, generator in (generators or {}).items():
        if name not in state.generator_states:
            raise ValueError(f"{path} holds no state of generator {name!r}")
        generator.set_state(state.generator_states[name])
    logger.info("resuming %s training from step %d (%s)", type(model).__name__, state.step, path)
    return state.step, state.log
