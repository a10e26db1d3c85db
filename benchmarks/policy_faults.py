"""Malformed requests for the policy server, each with the text its refusal must hold, and a
client that sends one and reads the refusal: the fault cases of the server's test and of
``python -m benchmarks.serve_load``."""

from __future__ import annotations

import msgpack
import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from benchmarks.policy_protocol import GOAL_IMAGE, GOAL_STATE, IMAGE, STATE, pack


def _ndarray(dtype: str, shape: list[int], data: bytes) -> dict:
    """A packed array whose fields are given as they are, consistent or not."""
    return {b"__ndarray__": True, b"data": data, b"dtype": dtype, b"shape": shape}


def malformed_requests(
    image_shape: tuple[int, int, int], proprio_dim: int
) -> dict[str, tuple[bytes | str, str]]:
    """Malformed requests for a server whose images are `image_shape` (H, W, 3), by name;
    with `proprio_dim` > 0 the states too (a NaN state).

    Returns:
        {name: (message, text the server's error must contain)}; the server refuses each
        with a text frame, then closes with code 1008.
    """
    image = np.zeros(image_shape, dtype=np.uint8)
    height, width, _ = image_shape
    half = image[: height // 2, : width // 2]
    zeros = np.zeros(proprio_dim, dtype=np.float32)
    states = {GOAL_STATE: zeros, STATE: zeros} if proprio_dim else {}  # what else is needed
    cases: dict[str, tuple[bytes | str, str]] = {
        "not msgpack": (b"\xc1\xc1 not msgpack", "not msgpack"),
        "a list, not a map": (pack([1, 2]), "must be a msgpack map"),
        "a text frame": ("hello", "binary msgpack"),
        "no goal yet": (pack({IMAGE: image}), "no episode yet"),
        "missing observation/image": (pack({GOAL_IMAGE: image}), f"missing keys ['{IMAGE}'"),
        "wrong shape": (
            pack({GOAL_IMAGE: image, IMAGE: image[:, :, :2], **states}),
            f"{IMAGE} must be {image_shape} uint8, got {(height, width, 2)} uint8",
        ),
        "wrong dtype": (
            pack({GOAL_IMAGE: image, IMAGE: image.astype(np.float32), **states}),
            f"got {image_shape} float32",
        ),
        "goal of another size": (
            pack({GOAL_IMAGE: half, IMAGE: image, **states}),
            f"{GOAL_IMAGE} must be {image_shape} uint8, got {half.shape}",
        ),
        "object dtype": (
            msgpack.packb({GOAL_IMAGE: _ndarray("|O", [1], b"\0" * 8)}),
            "dtype object is not allowed",
        ),
        "data shorter than its shape": (
            msgpack.packb({GOAL_IMAGE: _ndarray("|u1", list(image_shape), b"\0" * 10)}),
            f"does not hold {list(image_shape)} values of uint8",
        ),
    }
    if proprio_dim:
        nan = np.full(proprio_dim, np.nan, dtype=np.float32)
        request = {GOAL_IMAGE: image, IMAGE: image, GOAL_STATE: nan, STATE: nan}
        cases["NaN in the state"] = (pack(request), "NaN")
    return cases


def refusal(url: str, message: bytes | str) -> tuple[list[str | bytes], int | None, str]:
    """Sends one message after the metadata and waits for the server to close.

    Returns:
        (the frames received after the metadata, the close code, the close reason).
    """
    frames: list[str | bytes] = []
    with connect(url) as websocket:
        try:
            websocket.recv()  # the metadata
            websocket.send(message)
            while True:
                frames.append(websocket.recv(timeout=30))
        except ConnectionClosed as closed:
            received = closed.rcvd  # None when the connection dropped without a close frame
            return frames, None if received is None else received.code, received and received.reason
