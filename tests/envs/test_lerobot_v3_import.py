"""LeRobot v3.0 import: a dataset written in the published v3.0 layout, imported and compared.

The dataset is written as lerobot 0.4 writes it: episodes 0-2 share ``file-000`` of the data,
of the video and of the episode metadata; episode 3 starts ``file-001`` of each. Each episode's
video is encoded on its own with lerobot's default encoder settings (libsvtav1, yuv420p, GOP 2,
CRF 30) and the episodes of a file are concatenated without re-encoding (ffmpeg's concat
demuxer), as lerobot's ``concatenate_video_files`` does; ``videos/{key}/from_timestamp`` is
where an episode starts in its file.
"""

import io
import json
import shutil
import subprocess

import imageio_ffmpeg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import envs.lerobot_import
from envs.dataset import TrajectoryDataset
from envs.lerobot_import import import_lerobot

LENGTHS = [5, 7, 4, 3]  # rows of episodes 0..3
FILE_OF = [0, 0, 0, 1]  # data, video and metadata file of each episode
FPS, SIZE = 10, 64
TOP, WRIST = "observation.images.top", "observation.images.wrist"
DATA = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
# AV1 at CRF 30 on these flat-coloured 64x64 frames measures 35.3 to 51.1 dB (mean 42.0); a
# neighbouring frame of the same or another episode measures 16 to 18 dB. 32 dB separates them.
MIN_PSNR_DB = 32.0


def _state(ep, t):
    return [float(ep), float(t), 0.25 * t]


def _action(ep, t):
    return [10.0 * ep + t, -float(t)]


def _frame(ep, t):
    """(64, 64, 3): a background colour per episode and a white square that moves with t."""
    frame = np.empty((SIZE, SIZE, 3), np.uint8)
    frame[:] = (50 * ep + 30, 20 * t + 40, 200 - 40 * ep)
    frame[16:40, 4 * t : 4 * t + 24] = 255
    return frame


def _png(ep, t):
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 30 * ep + 5 * t, np.uint8)).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def _encode(path, frames):
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (SIZE, SIZE),
        fps=FPS,
        codec="libsvtav1",
        pix_fmt_out="yuv420p",
        quality=None,
        output_params=["-g", "2", "-crf", "30", "-preset", "12"],
        macro_block_size=1,
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(frame.tobytes())
    writer.close()


def _concatenate(parts, out):
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "concat", "-safe", "0"]
    subprocess.run([*command, "-i", str(listing), "-c", "copy", str(out)], check=True)
    listing.unlink()


def write_lerobot_v3(root):
    features = {
        "observation.state": {"dtype": "float32", "shape": [3], "names": None},
        "action": {"dtype": "float32", "shape": [2], "names": None},
        TOP: {
            "dtype": "video",
            "shape": [SIZE, SIZE, 3],
            "names": ["height", "width", "channels"],
            "info": {"video.fps": float(FPS), "video.codec": "av1", "video.pix_fmt": "yuv420p"},
        },
        WRIST: {"dtype": "image", "shape": [8, 8, 3], "names": ["height", "width", "channel"]},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    info = {
        "codebase_version": "v3.0",
        "robot_type": "toy",
        "total_episodes": len(LENGTHS),
        "total_frames": sum(LENGTHS),
        "total_tasks": 1,
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": FPS,
        "splits": {"train": f"0:{len(LENGTHS)}"},
        "data_path": DATA,
        "video_path": VIDEO,
        "features": features,
    }
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    pq.write_table(pa.table({"task_index": [0], "task": ["push"]}), root / "meta/tasks.parquet")
    rows, metadata, parts = {}, {}, {}
    start_row = 0
    for ep, (n, file) in enumerate(zip(LENGTHS, FILE_OF, strict=True)):
        part = root / f"ep{ep}.mp4"
        _encode(part, [_frame(ep, t) for t in range(n)])
        start_s = sum(LENGTHS[e] for e in range(ep) if FILE_OF[e] == file) / FPS
        parts.setdefault(file, []).append(part)
        for key, value in {
            "observation.state": [_state(ep, t) for t in range(n)],
            "action": [_action(ep, t) for t in range(n)],
            WRIST: [_png(ep, t) for t in range(n)],
            "timestamp": [t / FPS for t in range(n)],
            "frame_index": list(range(n)),
            "episode_index": [ep] * n,
            "index": list(range(start_row, start_row + n)),
            "task_index": [0] * n,
        }.items():
            rows.setdefault(file, {}).setdefault(key, []).extend(value)
        for key, value in {
            "episode_index": ep,
            "tasks": ["push"],
            "length": n,
            "data/chunk_index": 0,
            "data/file_index": file,
            "dataset_from_index": start_row,
            "dataset_to_index": start_row + n,
            f"videos/{TOP}/chunk_index": 0,
            f"videos/{TOP}/file_index": file,
            f"videos/{TOP}/from_timestamp": start_s,
            f"videos/{TOP}/to_timestamp": start_s + n / FPS,
            "meta/episodes/chunk_index": 0,
            "meta/episodes/file_index": file,
        }.items():
            metadata.setdefault(file, {}).setdefault(key, []).append(value)
        start_row += n
    for file in parts:
        place = {"chunk_index": 0, "file_index": file}
        columns = dict(rows[file])
        columns["timestamp"] = pa.array(columns["timestamp"], pa.float32())
        for relative, table in ((DATA, columns), (EPISODES, metadata[file])):
            path = root / relative.format(**place)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(table), path)
        video = root / VIDEO.format(video_key=TOP, **place)
        video.parent.mkdir(parents=True, exist_ok=True)
        _concatenate(parts[file], video)
        for part in parts[file]:
            part.unlink()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("lerobot_v3") / "toy_v3"
    write_lerobot_v3(root)
    return root


def psnr(decoded, written):
    mse = np.mean((decoded.astype(np.float64) - written.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def test_round_trip_of_episodes_sharing_files(source, tmp_path):
    assert import_lerobot(source, tmp_path / "out", image_size=SIZE, camera=TOP) == 4
    dataset = TrajectoryDataset(tmp_path / "out", env_id="lerobot/toy_v3")
    assert dataset.meta["env_kwargs"]["codebase_version"] == "v3.0"
    all_written = np.stack([_frame(e, t) for e, n in enumerate(LENGTHS) for t in range(n)])
    for ep, episode in enumerate(dataset.episodes()):
        n = LENGTHS[ep]
        assert episode.pixels.shape == (n, SIZE, SIZE, 3) and episode.actions.shape == (n - 1, 2)
        np.testing.assert_array_equal(episode.proprio, [_state(ep, t) for t in range(n)])
        np.testing.assert_array_equal(episode.actions, [_action(ep, t) for t in range(n - 1)])
        for t, frame in enumerate(episode.pixels):
            written = _frame(ep, t)
            assert psnr(frame, written) > MIN_PSNR_DB, (ep, t, psnr(frame, written))
            # the frame decoded is the one written for (ep, t): nearest among all frames
            errors = ((all_written.astype(np.float64) - frame) ** 2).mean(axis=(1, 2, 3))
            assert np.argmin(errors) == sum(LENGTHS[:ep]) + t


def test_only_the_episodes_asked_for_are_decoded(source, tmp_path, monkeypatch):
    decoded = []
    read_frames = imageio_ffmpeg.read_frames

    def counting(*args, **kwargs):
        reader = read_frames(*args, **kwargs)
        yield next(reader)
        for buffer in reader:
            decoded.append(buffer)
            yield buffer

    monkeypatch.setattr(envs.lerobot_import.imageio_ffmpeg, "read_frames", counting)
    import_lerobot(source, tmp_path / "ep2", image_size=SIZE, camera=TOP, episodes=[2])
    (episode,) = TrajectoryDataset(tmp_path / "ep2").episodes()
    assert len(decoded) == LENGTHS[2]  # episode 2 starts at frame 12 of its video
    for t, frame in enumerate(episode.pixels):
        assert psnr(frame, _frame(2, t)) > MIN_PSNR_DB
    np.testing.assert_array_equal(episode.actions, [_action(2, t) for t in range(LENGTHS[2] - 1)])


def test_image_camera_rows_are_cut_from_the_shared_file(source, tmp_path):
    import_lerobot(source, tmp_path / "wrist", image_size=8, camera=WRIST, episodes=[1, 3])
    episodes = TrajectoryDataset(tmp_path / "wrist").episodes()
    for ep, episode in zip((1, 3), episodes, strict=True):
        np.testing.assert_array_equal(
            episode.pixels[:, 0, 0, 0], [30 * ep + 5 * t for t in range(LENGTHS[ep])]
        )
        np.testing.assert_array_equal(episode.proprio, [_state(ep, t) for t in range(LENGTHS[ep])])


def test_broken_v3_layouts_are_named(source, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    (broken / VIDEO.format(video_key=TOP, chunk_index=0, file_index=1)).unlink()
    with pytest.raises(FileNotFoundError, match="episode 3, camera observation.images.top"):
        import_lerobot(broken, tmp_path / "a", image_size=8, camera=TOP)
    meta = broken / EPISODES.format(chunk_index=0, file_index=0)
    pq.write_table(pq.read_table(meta).drop_columns([f"videos/{TOP}/from_timestamp"]), meta)
    missing = r"file-000.parquet: column\(s\) \['videos/.*from_timestamp'\] missing"
    with pytest.raises(ValueError, match=missing):
        import_lerobot(broken, tmp_path / "b", image_size=8, camera=TOP)
    shutil.rmtree(broken / "meta" / "episodes")
    with pytest.raises(FileNotFoundError, match="not a LeRobot v3.0 dataset: no meta/episodes"):
        import_lerobot(broken, tmp_path / "c", image_size=8, camera=TOP)
