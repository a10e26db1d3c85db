"""The wire format of ``wmplan-serve``: openpi's msgpack messages with numpy arrays, and the
request and reply keys fixed in DESIGN.md ("policy server").

Arrays travel as openpi's ``openpi_client.msgpack_numpy`` packs them: a map
``{b"__ndarray__": True, b"data": bytes, b"dtype": str, b"shape": [..]}`` (numpy scalars as
``{b"__npgeneric__": True, b"data": value, b"dtype": str}``). Unpacking accepts only
boolean, integer and floating dtypes whose data length matches the shape, so a message can
neither build an object array nor read past its buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

IMAGE, STATE = "observation/image", "observation/state"
GOAL_IMAGE, GOAL_STATE = "goal/image", "goal/state"
_KINDS = "biuf"  # bool, signed and unsigned integers, floats


class RequestError(ValueError):
    """A request the server refuses; the message, naming the problem, goes to the client."""


def _pack_array(value: Any) -> Any:
    """msgpack's `default`: numpy arrays and scalars as openpi packs them."""
    if isinstance(value, np.ndarray):
        return {
            b"__ndarray__": True,
            b"data": np.ascontiguousarray(value).tobytes(),
            b"dtype": value.dtype.str,
            b"shape": list(value.shape),
        }
    if isinstance(value, np.generic):
        return {b"__npgeneric__": True, b"data": value.item(), b"dtype": value.dtype.str}
    raise TypeError(f"cannot pack {type(value).__name__}")


def _dtype(value: Any) -> np.dtype:
    """A packed dtype string as a numpy dtype of an allowed kind, or RequestError."""
    try:
        dtype = np.dtype(value)
    except TypeError as error:
        raise RequestError(f"unknown array dtype {value!r}") from error
    if dtype.kind not in _KINDS:
        raise RequestError(f"array dtype {dtype} is not allowed (bool, integer or float only)")
    return dtype


def _unpack_array(packed: dict) -> Any:
    """msgpack's `object_hook`: maps packed as arrays back to numpy, checked."""
    if b"__ndarray__" in packed:
        dtype, shape, data = _dtype(packed.get(b"dtype")), packed.get(b"shape"), packed.get(b"data")
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise RequestError(f"array shape must be a list of sizes >= 0, got {shape!r}")
        if not isinstance(data, bytes) or len(data) != math.prod(shape) * dtype.itemsize:
            raise RequestError(f"array data does not hold {shape} values of {dtype}")
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()  # writable, owned
    if b"__npgeneric__" in packed:
        return _dtype(packed.get(b"dtype")).type(packed.get(b"data"))
    return packed


def pack(message: dict) -> bytes:
    """A message (a dict of numbers, strings, numpy arrays, dicts) as msgpack bytes."""
    return msgpack.packb(message, default=_pack_array)


def unpack(data: bytes) -> Any:
    """msgpack bytes as a message, arrays as numpy.

    Raises:
        RequestError: when the bytes are not msgpack, or an array is malformed.
    """
    try:
        return msgpack.unpackb(data, object_hook=_unpack_array)
    except RequestError:
        raise
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise RequestError(f"not msgpack ({type(error).__name__}: {error})") from error


@dataclass(frozen=True)
class PolicyRequest:
    """One request: the observation to act on and, when it starts an episode, the goal.

    Attributes:
        observation: {"pixels": (H, W, 3) uint8} and "proprio": (p,) float32 when the model
            takes proprioception, as the controller takes it.
        goal: the goal observation in the same form, or None (the episode goes on).
    """

    observation: dict[str, np.ndarray]
    goal: dict[str, np.ndarray] | None


def _array(message: dict, key: str, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """message[key], checked to be an array of `dtype` and `shape`."""
    value = message[key]
    if not isinstance(value, np.ndarray):
        raise RequestError(f"{key} must be an array {shape} {dtype}, got {type(value).__name__}")
    if value.dtype != dtype or value.shape != shape:
        raise RequestError(f"{key} must be {shape} {dtype}, got {value.shape} {value.dtype}")
    return value


def parse_request(
    message: Any, *, image_shape: tuple[int, int, int] | None, proprio_dim: int, in_episode: bool
) -> PolicyRequest:
    """Checks a request's keys, dtypes and shapes (DESIGN.md "policy server").

    Keys other than the observation and goal ones are ignored, as openpi clients often send
    more (a prompt, other cameras).

    Args:
        message: the unpacked request.
        image_shape: (H, W, 3) the images must have, or None when the server does not know
            it (the first goal's shape then holds for the connection).
        proprio_dim: p, the proprioception the model takes (0: ``observation/state`` and
            ``goal/state`` are ignored).
        in_episode: whether an earlier request started an episode.

    Returns:
        The request.

    Raises:
        RequestError: naming the missing key or the expected and received dtype or shape.
    """
    if not isinstance(message, dict):
        raise RequestError(f"a request must be a msgpack map, got {type(message).__name__}")
    starts_episode = GOAL_IMAGE in message
    if GOAL_STATE in message and not starts_episode:
        raise RequestError(f"{GOAL_STATE} came without {GOAL_IMAGE}: a goal needs its image")
    if not in_episode and not starts_episode:
        raise RequestError(
            f"no episode yet: the first request must hold the goal ({GOAL_IMAGE}"
            + (f", {GOAL_STATE})" if proprio_dim else ")")
        )
    required = [IMAGE, STATE] if proprio_dim else [IMAGE]
    if starts_episode:
        required += [GOAL_STATE] if proprio_dim else []
    missing = [key for key in required if key not in message]
    if missing:
        raise RequestError(f"missing keys {missing}; got {sorted(map(str, message))}")
    goal_pixels = message.get(GOAL_IMAGE)
    if image_shape is None:
        if not isinstance(goal_pixels, np.ndarray) or goal_pixels.ndim != 3:
            raise RequestError(f"{GOAL_IMAGE} must be an (H, W, 3) uint8 array")
        image_shape = (*goal_pixels.shape[:2], 3)
    uint8, float32 = np.dtype(np.uint8), np.dtype(np.float32)

    def observation(image_key: str, state_key: str) -> dict[str, np.ndarray]:
        obs = {"pixels": _array(message, image_key, uint8, image_shape)}
        if proprio_dim:
            obs["proprio"] = _array(message, state_key, float32, (proprio_dim,))
        return obs

    goal = observation(GOAL_IMAGE, GOAL_STATE) if starts_episode else None
    return PolicyRequest(observation(IMAGE, STATE), goal)


def reply(
    actions: np.ndarray, plan_cost: float, surprise: float, timing_ms: dict[str, float]
) -> dict[str, Any]:
    """A reply as DESIGN.md fixes it.

    Args:
        actions: (R, A) the remaining plan, first row to execute now.
        plan_cost: the plan's energy.
        surprise: the world model's surprise at the latest observation, NaN before it has one.
        timing_ms: milliseconds (``infer_ms`` and others).
    """
    return {
        "actions": np.asarray(actions, dtype=np.float32),
        "plan_cost": float(plan_cost),
        "surprise": float(surprise),
        "server_timing": {key: float(value) for key, value in timing_ms.items()},
    }
