"""Import a local LeRobot dataset (v2.x or v3.0 layout) into a wmplan trajectory dataset.

Where an episode's rows and frames lie in each layout is :mod:`envs.lerobot_layout`'s concern;
the version is read from ``meta/info.json`` and any other version is refused with an error
naming it. Cameras of dtype ``"video"`` are mp4 files (one per episode in v2.x, several
episodes concatenated in v3.0); cameras of dtype ``"image"`` are stored in the parquet itself
(a struct of encoded ``bytes`` and ``path``, as written by Hugging Face ``datasets.Image``).

Alignment. A LeRobot row ``t`` holds the observation at time ``t`` and the action commanded
after it (recorded with the same timestamp), so an episode of ``L`` rows becomes ``T = L - 1``
steps of ours::

    pixels[t]  = camera frame of row t          t = 0 .. L-1   (T+1 frames)
    proprio[t] = observation.state of row t     t = 0 .. L-1
    actions[t] = action of row t                t = 0 .. L-2   (T actions)

The last row's action is dropped: no observation shows its outcome. Episodes of fewer than two
rows hold no transition and are skipped (logged). Rows are ordered by ``frame_index``; the video
frame of a row is the one nearest its timestamp (``round((video_start + timestamp) * fps)``), as
LeRobot's own decoder picks it. In v3.0 the decoder seeks to the episode's first frame, so only
the episodes asked for are decoded.

Frames are centre-cropped to a square (optional) and resized to ``image_size`` with bilinear
(antialiased) filtering; videos are decoded one frame at a time, so an episode's full-size
video never sits in memory.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image
from tqdm import tqdm

from envs.dataset import Episode, TrajectoryWriter, write_episode
from envs.import_common import check_import_target, square_resize
from envs.lerobot_layout import (
    ACTION_KEY,
    STATE_KEY,
    EpisodeFiles,
    choose_camera,
    locate_episodes,
    read_info,
)

logger = logging.getLogger(__name__)


def import_lerobot(
    source: str | Path,
    out: str | Path,
    image_size: int,
    camera: str | None = None,
    env_id: str | None = None,
    center_crop: bool = True,
    episodes: Sequence[int] | None = None,
    progress: bool = True,
) -> int:
    """Convert a local LeRobot v2.x or v3.0 dataset into ``out`` (see the module docstring).

    Args:
        source: LeRobot dataset directory (holding ``meta/info.json``).
        out: new wmplan dataset directory; must not hold episodes yet.
        image_size: side of the square frames written, (image_size, image_size, 3) uint8.
        camera: feature key of the camera to import; may be omitted if there is only one.
        env_id: id recorded in ``meta.json``; default ``lerobot/<source directory name>``.
        center_crop: crop the central square before resizing (otherwise the aspect ratio is
            squashed).
        episodes: LeRobot episode indices to import (all by default).
        progress: show a progress bar over the episodes.

    Returns:
        Number of episodes written.
    """
    source, out = Path(source), Path(out)
    check_import_target(out, image_size)
    info = read_info(source)
    camera = choose_camera(info, camera, source)
    located = locate_episodes(source, info, camera)
    selected = sorted(located) if episodes is None else list(episodes)
    missing = [i for i in selected if i not in located]
    if missing:
        raise ValueError(f"{source}/meta lists no episode(s) {missing}")
    env_kwargs = {
        "source": "lerobot",
        "repo": source.name,
        "codebase_version": info["codebase_version"],
        "camera": camera,
        "image_size": image_size,
        "center_crop": center_crop,
        "fps": info["fps"],
        "robot_type": info.get("robot_type"),
    }
    TrajectoryWriter(out, env_id or f"lerobot/{source.name}", env_kwargs)  # writes meta.json
    tables = _TableCache()
    written = 0
    for index in tqdm(selected, desc="import", disable=not progress):
        files = located[index]
        rows = read_rows(tables.read(files.data, index), info, index, camera, files)
        n_rows = len(rows[STATE_KEY])
        if n_rows != files.length:
            logger.warning("episode %d: %d rows, the metadata says %d", index, n_rows, files.length)
        if n_rows < 2:
            logger.warning("episode %d of %s has %d row(s); skipped", index, source, n_rows)
            continue
        frames = camera_frames(source, info, index, camera, rows, files, image_size, center_crop)
        episode = Episode(
            pixels=np.stack(list(frames)),  # (L, S, S, 3)
            proprio=rows[STATE_KEY],  # (L, p)
            actions=rows[ACTION_KEY][:-1],  # (L-1, A): the last row's action has no outcome
        )
        write_episode(out / f"episode_{written:06d}.h5", episode)
        written += 1
    return written


class _TableCache:
    """The last parquet file read: in v3.0 consecutive episodes share one."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._table: pa.Table | None = None

    def read(self, path: Path, index: int) -> pa.Table:
        """The table of ``path``, which holds (among others) episode ``index``'s rows."""
        if path != self._path:
            if not path.is_file():
                raise FileNotFoundError(f"episode {index}: {path} is missing")
            self._path, self._table = path, pq.read_table(path)
        assert self._table is not None
        return self._table


def read_rows(
    table: pa.Table, info: dict[str, Any], index: int, camera: str, files: EpisodeFiles
) -> dict[str, Any]:
    """One episode's rows of ``table`` (the file ``files.data``), ordered by ``frame_index``.

    Returns:
        ``observation.state`` (L, p) float32, ``action`` (L, A) float32, ``timestamp`` (L,)
        float64 (``frame_index / fps`` if absent) and, for an image camera, its (L,) cells.
    """
    path = files.data
    names = set(table.column_names)
    image_camera = info["features"][camera]["dtype"] == "image"
    needed = (STATE_KEY, ACTION_KEY) + ((camera,) if image_camera else ())
    needed += ("episode_index",) if files.shared else ()
    for key in needed:
        if key not in names:
            raise ValueError(f"{path}: column {key!r} is missing (columns: {sorted(names)})")
    if files.shared:
        table = table.filter(pc.equal(table.column("episode_index"), index))
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
    files: EpisodeFiles,
    size: int,
    center_crop: bool = True,
) -> Iterator[np.ndarray]:
    """The camera frame of each row, resized by ``square_resize``: (size, size, 3) uint8."""
    if files.video is None:
        for cell in rows[camera]:
            yield square_resize(_decode_image(cell, source), size, center_crop)
        return
    path = files.video
    if not path.is_file():
        raise FileNotFoundError(f"episode {index}, camera {camera}: {path} is missing")
    fps = float(info["features"][camera].get("info", {}).get("video.fps", info["fps"]))
    first = round(files.video_start_s * fps)  # the video's frame at the episode's start
    wanted = np.rint((files.video_start_s + rows["timestamp"]) * fps).astype(np.int64) - first
    if wanted.min() < 0:
        raise ValueError(f"episode {index}: {path}: a row's timestamp is before the episode start")
    wanted_set, last = set(wanted.tolist()), int(wanted.max())
    # accurate input seek: decoding starts at the first frame at or after (first - 1/2) / fps
    seek = ["-ss", f"{(first - 0.5) / fps:.6f}"] if first > 0 else []
    decoded: dict[int, np.ndarray] = {}
    frame_index = -1
    reader = imageio_ffmpeg.read_frames(
        str(path), pix_fmt="rgb24", input_params=seek, output_params=["-fps_mode", "passthrough"]
    )
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
            f"{path} holds fewer frames than episode {index}'s timestamps need "
            f"(frame {first + last} at {fps:g} fps, decoded up to {first + frame_index})"
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
