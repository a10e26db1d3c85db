"""Import a local LeRobot dataset (v2.x layout) into a wmplan trajectory dataset.

The LeRobot v2.0/v2.1 layout read here (``huggingface/lerobot``, ``lerobot_dataset.py``)::

    source/meta/info.json          codebase_version, fps, chunks_size, data_path and
                                   video_path templates, features {key: {dtype, shape, ...}}
    source/meta/episodes.jsonl     one {"episode_index": i, "length": L, ...} per line
    source/data/chunk-XXX/episode_XXXXXX.parquet            one row per frame
    source/videos/chunk-XXX/<camera key>/episode_XXXXXX.mp4 cameras of dtype "video"

Cameras of dtype ``"image"`` are stored in the parquet itself (a struct of encoded ``bytes`` and
``path``, as written by Hugging Face ``datasets.Image``). The v3.0 layout, which packs several
episodes per file, is rejected with a clear error.

Alignment. A LeRobot row ``t`` holds the observation at time ``t`` and the action commanded
after it (recorded with the same timestamp), so an episode of ``L`` rows becomes ``T = L - 1``
steps of ours::

    pixels[t]  = camera frame of row t          t = 0 .. L-1   (T+1 frames)
    proprio[t] = observation.state of row t     t = 0 .. L-1
    actions[t] = action of row t                t = 0 .. L-2   (T actions)

The last row's action is dropped: no observation shows its outcome. Episodes of fewer than two
rows hold no transition and are skipped (logged). Rows are ordered by ``frame_index``; the video
frame of a row is the one nearest its ``timestamp`` (``round(timestamp * fps)``), as LeRobot's
own decoder picks it.

Frames are centre-cropped to a square (optional) and resized to ``image_size`` with bilinear
(antialiased) filtering; videos are decoded one frame at a time, so an episode's full-size
video never sits in memory.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from envs.dataset import Episode, TrajectoryWriter, episode_files, write_episode

logger = logging.getLogger(__name__)

STATE_KEY = "observation.state"
ACTION_KEY = "action"
CAMERA_DTYPES = ("video", "image")


def import_lerobot(
    source: str | Path,
    out: str | Path,
    image_size: int,
    camera: str | None = None,
    env_id: str | None = None,
    center_crop: bool = True,
    episodes: Sequence[int] | None = None,
) -> int:
    """Convert a local LeRobot v2.x dataset into ``out`` (see the module docstring).

    Args:
        source: LeRobot dataset directory (holding ``meta/info.json``).
        out: new wmplan dataset directory; must not hold episodes yet.
        image_size: side of the square frames written, (image_size, image_size, 3) uint8.
        camera: feature key of the camera to import; may be omitted if there is only one.
        env_id: id recorded in ``meta.json``; default ``lerobot/<source directory name>``.
        center_crop: crop the central square before resizing (otherwise the aspect ratio is
            squashed).
        episodes: LeRobot episode indices to import (all by default).

    Returns:
        Number of episodes written.
    """
    source, out = Path(source), Path(out)
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    info = read_info(source)
    camera = choose_camera(info, camera, source)
    lengths = read_episode_lengths(source)
    selected = sorted(lengths) if episodes is None else list(episodes)
    missing = [i for i in selected if i not in lengths]
    if missing:
        raise ValueError(f"{source}/meta/episodes.jsonl lists no episode(s) {missing}")
    if episode_files(out):
        raise FileExistsError(f"{out} already holds episodes; import into a new directory")
    env_kwargs = {
        "source": "lerobot",
        "repo": source.name,
        "camera": camera,
        "image_size": image_size,
        "center_crop": center_crop,
        "fps": info["fps"],
        "robot_type": info.get("robot_type"),
    }
    TrajectoryWriter(out, env_id or f"lerobot/{source.name}", env_kwargs)  # writes meta.json
    written = 0
    for index in selected:
        rows = read_rows(source, info, index, camera)
        n_rows = len(rows[STATE_KEY])
        if n_rows != lengths[index]:
            logger.warning(
                "episode %d: %d rows, episodes.jsonl says %d", index, n_rows, lengths[index]
            )
        if n_rows < 2:
            logger.warning("episode %d of %s has %d row(s); skipped", index, source, n_rows)
            continue
        frames = camera_frames(source, info, index, camera, rows, image_size, center_crop)
        episode = Episode(
            pixels=np.stack(list(frames)),  # (L, S, S, 3)
            proprio=rows[STATE_KEY],  # (L, p)
            actions=rows[ACTION_KEY][:-1],  # (L-1, A): the last row's action has no outcome
        )
        write_episode(out / f"episode_{written:06d}.h5", episode)
        written += 1
    return written


def read_info(source: Path) -> dict[str, Any]:
    """Read ``meta/info.json`` and check the layout version and the needed features."""
    path = source / "meta" / "info.json"
    if not path.is_file():
        raise FileNotFoundError(f"{source} is not a LeRobot dataset: {path} is missing")
    info = json.loads(path.read_text())
    version = str(info.get("codebase_version", "?"))
    if not version.startswith("v2."):
        raise ValueError(
            f"{path}: codebase_version {version} is not supported; only the v2.x layout "
            "(one parquet file per episode) is"
        )
    features = info.get("features", {})
    for key in (STATE_KEY, ACTION_KEY):
        if key not in features:
            raise ValueError(f"{path}: feature {key!r} is missing (features: {sorted(features)})")
    for key in ("fps", "chunks_size", "data_path"):
        if key not in info:
            raise ValueError(f"{path}: field {key!r} is missing")
    return info


def choose_camera(info: dict[str, Any], camera: str | None, source: Path) -> str:
    """The camera feature to import: ``camera`` if given, else the only one."""
    cameras = sorted(k for k, f in info["features"].items() if f.get("dtype") in CAMERA_DTYPES)
    if camera is None:
        if len(cameras) != 1:
            raise ValueError(f"{source} has cameras {cameras}; choose one with camera=<key>")
        return cameras[0]
    if camera not in cameras:
        raise ValueError(f"{source} has no camera {camera!r}; its cameras are {cameras}")
    return camera


def read_episode_lengths(source: Path) -> dict[int, int]:
    """``{episode_index: length}`` from ``meta/episodes.jsonl``."""
    path = source / "meta" / "episodes.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{source} is not a LeRobot v2.x dataset: {path} is missing")
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {int(e["episode_index"]): int(e["length"]) for e in lines}


def _chunk(info: dict[str, Any], index: int) -> int:
    return index // int(info["chunks_size"])


def read_rows(source: Path, info: dict[str, Any], index: int, camera: str) -> dict[str, Any]:
    """One episode's rows ordered by ``frame_index``.

    Returns:
        ``observation.state`` (L, p) float32, ``action`` (L, A) float32, ``timestamp`` (L,)
        float64 (``frame_index / fps`` if absent) and, for an image camera, its (L,) cells.
    """
    path = source / info["data_path"].format(episode_chunk=_chunk(info, index), episode_index=index)
    if not path.is_file():
        raise FileNotFoundError(f"episode {index}: {path} is missing")
    table = pq.read_table(path)
    names = set(table.column_names)
    image_camera = info["features"][camera]["dtype"] == "image"
    for key in (STATE_KEY, ACTION_KEY) + ((camera,) if image_camera else ()):
        if key not in names:
            raise ValueError(f"{path}: column {key!r} is missing (columns: {sorted(names)})")
    order = np.argsort(table.column("frame_index").to_numpy()) if "frame_index" in names else None
    if order is not None:
        table = table.take(order)
    length = table.num_rows
    rows: dict[str, Any] = {
        key: np.asarray(table.column(key).to_pylist(), dtype=np.float32).reshape(length, -1)
        for key in (STATE_KEY, ACTION_KEY)
    }
    if "timestamp" in names:
        rows["timestamp"] = table.column("timestamp").to_numpy().astype(np.float64)
    else:
        rows["timestamp"] = np.arange(length) / float(info["fps"])
    if image_camera:
        rows[camera] = table.column(camera).to_pylist()
    return rows


def camera_frames(
    source: Path,
    info: dict[str, Any],
    index: int,
    camera: str,
    rows: dict[str, Any],
    size: int,
    center_crop: bool = True,
) -> Iterator[np.ndarray]:
    """The camera frame of each row, resized by ``square_resize``: (size, size, 3) uint8."""
    if info["features"][camera]["dtype"] == "image":
        for cell in rows[camera]:
            yield square_resize(_decode_image(cell, source), size, center_crop)
        return
    if not info.get("video_path"):
        raise ValueError(f"{source}/meta/info.json: camera {camera!r} is a video but no video_path")
    path = source / info["video_path"].format(
        episode_chunk=_chunk(info, index), video_key=camera, episode_index=index
    )
    if not path.is_file():
        raise FileNotFoundError(f"episode {index}, camera {camera}: {path} is missing")
    fps = float(info["features"][camera].get("info", {}).get("video.fps", info["fps"]))
    wanted = np.rint(rows["timestamp"] * fps).astype(np.int64)  # (L,) video frame of each row
    wanted_set, last = set(wanted.tolist()), int(wanted.max())
    decoded: dict[int, np.ndarray] = {}
    frame_index = -1
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    width, height = next(reader)["size"]
    for frame_index, buffer in enumerate(reader):
        if frame_index in wanted_set:
            frame = np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
            decoded[frame_index] = square_resize(frame, size, center_crop)
        if frame_index >= last:
            break
    reader.close()
    if len(decoded) < len(wanted_set):
        raise ValueError(
            f"{path} holds fewer frames than its episode's timestamps need "
            f"(frame {last} at {fps:g} fps, decoded {frame_index + 1})"
        )
    for frame_index in wanted.tolist():
        yield decoded[frame_index]


def _decode_image(cell: Any, source: Path) -> np.ndarray:
    if isinstance(cell, dict) and cell.get("bytes"):
        return np.asarray(Image.open(io.BytesIO(cell["bytes"])).convert("RGB"))
    if isinstance(cell, dict) and cell.get("path"):
        path = Path(cell["path"])
        path = path if path.is_absolute() else source / path
        return np.asarray(Image.open(path).convert("RGB"))
    raise ValueError(f"image cell holds neither bytes nor a path: {str(cell)[:80]}")


def square_resize(frame: np.ndarray, size: int, center_crop: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8, optionally cropping the central square first."""
    height, width = frame.shape[:2]
    if center_crop and height != width:
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        frame = frame[top : top + side, left : left + side]
    if frame.shape[:2] == (size, size):
        return np.ascontiguousarray(frame)
    image = Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image)
