"""LeRobot v2.x import: round trip of a small dataset written in the LeRobot layout."""

import io
import json
import shutil

import imageio_ffmpeg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from envs.dataset import TrajectoryDataset
from envs.lerobot_import import import_lerobot

LENGTHS = {0: 5, 1: 1, 2: 4}  # rows per episode; episode 1 has no transition
FPS, CHUNK = 10, 2  # two episodes per chunk: episode 2 lives in chunk-001
TOP, WRIST = "observation.images.top", "observation.images.wrist"


def _state(ep, t):
    return [float(ep), float(t), 0.5]


def _action(ep, t):
    return [10.0 * ep + t, -float(t)]


def _top_frame(t):
    """(24, 32, 3): the central 24x24 square encodes t; the side bands are white."""
    frame = np.full((24, 32, 3), 255, np.uint8)
    frame[:, 4:28] = (20 * t + 10, 200 - 20 * t, 50)
    return frame


def _png(t):
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 30 * t + 5, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_lerobot(root):
    features = {
        "observation.state": {"dtype": "float32", "shape": [3], "names": None},
        "action": {"dtype": "float32", "shape": [2], "names": None},
        TOP: {"dtype": "video", "shape": [24, 32, 3], "info": {"video.fps": float(FPS)}},
        WRIST: {"dtype": "image", "shape": [16, 16, 3], "names": ["height", "width", "channel"]},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    info = {
        "codebase_version": "v2.1",
        "robot_type": "toy",
        "fps": FPS,
        "chunks_size": CHUNK,
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": (
            "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
        ),
        "features": features,
    }
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    lines = [
        json.dumps({"episode_index": ep, "tasks": ["t"], "length": n}) for ep, n in LENGTHS.items()
    ]
    (root / "meta" / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    for ep, n in LENGTHS.items():
        chunk = f"chunk-{ep // CHUNK:03d}"
        order = list(range(n))[::-1] if ep == 0 else list(range(n))  # rows out of order
        table = pa.table(
            {
                "observation.state": [_state(ep, t) for t in order],
                "action": [_action(ep, t) for t in order],
                WRIST: [{"bytes": _png(t), "path": None} for t in order],
                "timestamp": pa.array([t / FPS for t in order], pa.float32()),
                "frame_index": pa.array(order, pa.int64()),
            }
        )
        (root / "data" / chunk).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / "data" / chunk / f"episode_{ep:06d}.parquet")
        video = root / "videos" / chunk / TOP / f"episode_{ep:06d}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        writer = imageio_ffmpeg.write_frames(
            str(video),
            (32, 24),
            fps=FPS,
            codec="libx264rgb",
            pix_fmt_in="rgb24",
            pix_fmt_out="rgb24",
            quality=None,
            output_params=["-qp", "0"],
            macro_block_size=1,
        )  # lossless RGB
        writer.send(None)
        for t in range(n):
            writer.send(_top_frame(t).tobytes())
        writer.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("lerobot") / "toy_robot"
    write_lerobot(root)
    return root


def test_video_camera_round_trip(source, tmp_path):
    assert import_lerobot(source, tmp_path / "out", image_size=8, camera=TOP) == 2
    dataset = TrajectoryDataset(tmp_path / "out", env_id="lerobot/toy_robot")
    assert dataset.meta["env_kwargs"]["camera"] == TOP and dataset.meta["env_kwargs"]["fps"] == FPS
    for episode, ep in zip(dataset.episodes(), (0, 2), strict=True):
        n = LENGTHS[ep]
        # n rows -> n frames and proprio rows, n-1 actions (the last row's action is dropped)
        assert episode.pixels.shape == (n, 8, 8, 3) and episode.actions.shape == (n - 1, 2)
        np.testing.assert_array_equal(episode.proprio, [_state(ep, t) for t in range(n)])
        np.testing.assert_array_equal(episode.actions, [_action(ep, t) for t in range(n - 1)])
        # centre crop removed the white bands; frame t is the one recorded with row t
        expected = np.stack([_top_frame(t)[:8, 4:12] for t in range(n)])  # uniform colour
        np.testing.assert_allclose(episode.pixels, expected, atol=2)


def test_image_camera_and_no_crop(source, tmp_path):
    import_lerobot(source, tmp_path / "wrist", image_size=4, camera=WRIST, episodes=[2])
    (episode,) = TrajectoryDataset(tmp_path / "wrist").episodes()
    np.testing.assert_array_equal(episode.pixels[:, 0, 0, 0], [30 * t + 5 for t in range(4)])
    import_lerobot(source, tmp_path / "squashed", image_size=8, camera=TOP, center_crop=False)
    squashed = TrajectoryDataset(tmp_path / "squashed").episode(0).pixels
    assert squashed[:, :, 0].min() > 200  # the white bands are kept, squashed into the sides


def test_missing_parts_are_named(source, tmp_path):
    with pytest.raises(ValueError, match=r"cameras \['observation.images.top', .*camera=<key>"):
        import_lerobot(source, tmp_path / "a", image_size=8)
    with pytest.raises(ValueError, match="no camera 'front'"):
        import_lerobot(source, tmp_path / "b", image_size=8, camera="front")
    with pytest.raises(FileNotFoundError, match="meta/info.json is missing"):
        import_lerobot(tmp_path, tmp_path / "c", image_size=8)
    with pytest.raises(ValueError, match="lists no episode"):
        import_lerobot(source, tmp_path / "d", image_size=8, camera=TOP, episodes=[7])
    import_lerobot(source, tmp_path / "e", image_size=8, camera=TOP, episodes=[0])
    with pytest.raises(FileExistsError, match="already holds episodes"):
        import_lerobot(source, tmp_path / "e", image_size=8, camera=TOP)


def test_broken_layouts_are_named(source, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    (broken / "videos" / "chunk-001" / TOP / "episode_000002.mp4").unlink()
    with pytest.raises(FileNotFoundError, match="episode 2, camera observation.images.top"):
        import_lerobot(broken, tmp_path / "a", image_size=8, camera=TOP)
    info = json.loads((broken / "meta" / "info.json").read_text())
    del info["features"]["action"]
    (broken / "meta" / "info.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="feature 'action' is missing"):
        import_lerobot(broken, tmp_path / "b", image_size=8, camera=TOP)
    info["codebase_version"] = "v1.6"
    (broken / "meta" / "info.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"codebase_version v1.6 is not supported; .* v3.0"):
        import_lerobot(broken, tmp_path / "c", image_size=8, camera=TOP)
