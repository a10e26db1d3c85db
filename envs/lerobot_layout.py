"""Where a LeRobot episode's rows and camera frames lie on disk, in the v2.x and v3.0 layouts.

Both layouts (``huggingface/lerobot``, ``datasets/utils.py``) describe themselves in
``meta/info.json``: ``codebase_version``, ``fps``, ``features {key: {dtype, shape, ...}}`` and
path templates ``data_path`` and ``video_path``.

v2.0 / v2.1: one parquet file and one mp4 per camera for each episode::

    meta/episodes.jsonl                                     {"episode_index": i, "length": L}
    data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet
    videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4

with ``episode_chunk = episode_index // chunks_size``.

v3.0 (lerobot 0.4 and later): many episodes per file, located by per-episode metadata::

    meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet
        one row per episode: episode_index, length, data/chunk_index, data/file_index,
        dataset_from_index, dataset_to_index, videos/{video_key}/chunk_index,
        videos/{video_key}/file_index, videos/{video_key}/from_timestamp, .../to_timestamp
    data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet        rows of several episodes
    videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4
        several episodes concatenated; an episode's frame at (episode-relative) timestamp ``t``
        is the video's frame at ``from_timestamp + t``
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

STATE_KEY = "observation.state"
ACTION_KEY = "action"
CAMERA_DTYPES = ("video", "image")
SUPPORTED_VERSIONS = ("v2.0", "v2.1", "v3.0")


@dataclass(frozen=True)
class EpisodeFiles:
    """Where one episode lies.

    Attributes:
        length: its number of rows, as the metadata says.
        data: the parquet file holding its rows.
        shared: the file holds other episodes' rows too (v3.0): select by ``episode_index``.
        video: the camera's mp4, or None for a camera stored as images in the parquet.
        video_start_s: time of the episode's first frame in ``video`` (0 in v2.x).
    """

    length: int
    data: Path
    shared: bool
    video: Path | None
    video_start_s: float


def read_info(source: Path) -> dict[str, Any]:
    """Read ``meta/info.json`` and check the layout version and the needed features."""
    path = source / "meta" / "info.json"
    if not path.is_file():
        raise FileNotFoundError(f"{source} is not a LeRobot dataset: {path} is missing")
    info = json.loads(path.read_text())
    version = str(info.get("codebase_version", "?"))
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(
            f"{path}: codebase_version {version} is not supported; supported: "
            f"{', '.join(SUPPORTED_VERSIONS)} (convert other versions with lerobot's scripts)"
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


def locate_episodes(source: Path, info: dict[str, Any], camera: str) -> dict[int, EpisodeFiles]:
    """``{episode_index: EpisodeFiles}`` of every episode, in the layout ``info`` names."""
    is_video = info["features"][camera]["dtype"] == "video"
    if is_video and not info.get("video_path"):
        raise ValueError(f"{source}/meta/info.json: camera {camera!r} is a video but no video_path")
    if info["codebase_version"].startswith("v2."):
        return _episode_files_v2(source, info, camera if is_video else None)
    return _episode_files_v3(source, info, camera if is_video else None)


def _episode_files_v2(
    source: Path, info: dict[str, Any], video_key: str | None
) -> dict[int, EpisodeFiles]:
    path = source / "meta" / "episodes.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{source} is not a LeRobot v2.x dataset: {path} is missing")
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    files = {}
    for entry in lines:
        index = int(entry["episode_index"])
        place = {"episode_chunk": index // int(info["chunks_size"]), "episode_index": index}
        video = None
        if video_key is not None:
            video = source / info["video_path"].format(video_key=video_key, **place)
        data = source / info["data_path"].format(**place)
        files[index] = EpisodeFiles(int(entry["length"]), data, False, video, 0.0)
    return files


def _episode_files_v3(
    source: Path, info: dict[str, Any], video_key: str | None
) -> dict[int, EpisodeFiles]:
    paths = sorted((source / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not paths:
        raise FileNotFoundError(
            f"{source} is not a LeRobot v3.0 dataset: no meta/episodes/chunk-*/file-*.parquet"
        )
    columns = ["episode_index", "length", "data/chunk_index", "data/file_index"]
    if video_key is not None:
        columns += [f"videos/{video_key}/{c}" for c in ("chunk_index", "file_index")]
        columns.append(f"videos/{video_key}/from_timestamp")
    files = {}
    for path in paths:
        names = pq.read_schema(path).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"{path}: column(s) {missing} missing (columns: {sorted(names)})")
        for row in pq.read_table(path, columns=columns).to_pylist():
            data = source / info["data_path"].format(
                chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
            )
            video, start = None, 0.0
            if video_key is not None:
                video = source / info["video_path"].format(
                    video_key=video_key,
                    chunk_index=row[f"videos/{video_key}/chunk_index"],
                    file_index=row[f"videos/{video_key}/file_index"],
                )
                start = float(row[f"videos/{video_key}/from_timestamp"])
            files[int(row["episode_index"])] = EpisodeFiles(
                int(row["length"]), data, True, video, start
            )
    return files
