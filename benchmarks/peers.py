"""Peer planners for ``benchmarks.peer_*``: lazy imports and side-by-side timing.

The peers (pytorch_mppi, stable-worldmodel) are optional and never imported by the library;
the benchmark apps import them through these functions, which fail with the install command
when a peer is missing. stable-worldmodel 0.1.1 imports torchvision, whose PyPI build links
CUDA libraries: on a CPU-only torch its compiled ops cannot load and the import stops on
``torchvision::nms``. Defining that operator's schema (and ``torchvision::qnms``'s) first lets
torchvision's pure-Python parts load; nothing here calls those operators.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

INSTALL_HINT = (
    'pip install -e ".[peers]" torch==2.13.0 torchvision==0.28.0 mujoco==3.17.0 '
    "(the torch, torchvision and mujoco pins keep a CPU-only torch)"
)

# The schemas torchvision 0.28's C++ extension registers (csrc/ops/nms.cpp and
# csrc/ops/quantized/cpu/qnms_kernel.cpp).
TORCHVISION_SCHEMAS = {
    "torchvision::nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "torchvision::qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}

_torchvision_library: torch.library.Library | None = None  # keeps the definitions alive


def import_peer(module: str) -> ModuleType:
    """Imports a peer's module, naming the install command when it is missing.

    Args:
        module: dotted module name, e.g. "pytorch_mppi".

    Returns:
        The module.

    Raises:
        ModuleNotFoundError: when the peer (or one of its dependencies) is not installed.
    """
    if module.split(".")[0] == "stable_worldmodel":
        allow_torchvision_without_ops()
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"the peer benchmarks need {module!r} ({err}); install the peers with {INSTALL_HINT}",
            name=err.name,
        ) from err


def allow_torchvision_without_ops() -> None:
    """Defines torchvision's NMS operator schemas when its compiled ops cannot load.

    Does nothing when torchvision is not installed, when its extension loads (a torch build
    that matches it) or when the schemas exist already.
    """
    global _torchvision_library
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None or _torchvision_library is not None:
        return
    extension = next(Path(spec.origin).parent.glob("_C.*"), None)
    if extension is not None and _loads(extension):
        return
    missing = [
        schema
        for name, schema in TORCHVISION_SCHEMAS.items()
        if not torch._C._jit_get_schemas_for_operator(name)
    ]
    if missing:
        _torchvision_library = torch.library.Library("torchvision", "FRAGMENT")
        for schema in missing:
            _torchvision_library.define(schema)


def _loads(library: Path) -> bool:
    """Whether a compiled torch extension loads (a CUDA build does not on a CPU-only torch)."""
    try:
        torch.ops.load_library(str(library))
    except OSError:
        return False
    return True


def time_side_by_side(
    prepare: dict[str, Callable[[int], Callable[[], Tensor]]],
    score: Callable[[Tensor], Any],
    *,
    repeats: int,
    seed: int,
    device: torch.device,
) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """Times seeded plans of several planners, alternating their order every repeat.

    Each planner first runs one warm-up plan (seed `seed - 1`). Then, for repeat r, every
    planner's plan with seed `seed + r` is prepared (untimed: seeding, building a peer's
    solver), timed, and its actions scored (untimed).

    Args:
        prepare: planner name -> function of a seed returning the plan to time, a function
            returning the plan's actions.
        score: the returned actions -> what to record (e.g. their cost).
        repeats: timed plans per planner.
        seed: seed of the first timed plan.
        device: where planning runs; CUDA is synchronised around each timed plan.

    Returns:
        Wall-clock seconds per plan and scores, each a list over repeats, by planner name.
    """
    if repeats < 1:
        raise ValueError(f"repeats ({repeats}) must be >= 1")
    synchronize = partial(torch.cuda.synchronize, device) if device.type == "cuda" else lambda: None
    for name in prepare:
        prepare[name](seed - 1)()
    times: dict[str, list[float]] = {name: [] for name in prepare}
    scores: dict[str, list[Any]] = {name: [] for name in prepare}
    for repeat in range(repeats):
        for name in list(prepare) if repeat % 2 == 0 else list(reversed(prepare)):
            plan = prepare[name](seed + repeat)
            synchronize()
            begin = time.perf_counter()
            actions = plan()
            synchronize()
            times[name].append(time.perf_counter() - begin)
            scores[name].append(score(actions))
    return times, scores
