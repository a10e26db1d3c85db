"""Dataset validation: every bad episode is refused with its file and field named, by the
reader, the writer, the dataset check and training's loader; collections keep provenance.

Each test named ``test_regression_*`` reproduces an input that the code before issue 16
accepted silently (or rejected with an error naming no file)."""

import json

import gymnasium as gym
import h5py
import numpy as np
import pytest

from envs.collect import CollectionJob, collect
from envs.dataset import (
    Episode,
    TrajectoryDataset,
    TrajectoryWriter,
    episode_path,
    part_size,
    read_episode,
    write_episode,
)
from envs.dataset_summary import check_dataset, summarize_dataset
from envs.errors import DatasetError


def raw_episode(path, pixels, proprio, actions):
    """Writes an episode file with h5py directly, bypassing the writer's check."""
    with h5py.File(path, "w") as f:
        f["pixels"], f["proprio"], f["actions"] = pixels, proprio, actions


def good(T=3, size=4, p=4, A=2):
    """A valid episode's arrays (pixels, proprio, actions) of T actions."""
    rng = np.random.default_rng(T)
    return (
        rng.integers(0, 256, (T + 1, size, size, 3), dtype=np.uint8),
        rng.normal(size=(T + 1, p)).astype(np.float32),
        rng.uniform(-1, 1, (T, A)).astype(np.float32),
    )


def dataset(root, episodes):
    """A dataset directory holding the given (pixels, proprio, actions) files, unchecked."""
    TrajectoryWriter(root, env_id="test/E-v0", env_kwargs={})
    for i, arrays in enumerate(episodes):
        raw_episode(episode_path(root, i), *arrays)
    return root


def test_regression_one_extra_frame_or_one_short_proprio_row_is_refused(tmp_path):
    # `len(pixels) != len(actions)+1 != len(proprio)` raised only when both differed
    pixels, proprio, actions = good(T=3)
    extra_frame = np.concatenate([pixels, pixels[:1]])
    raw_episode(tmp_path / "a.h5", extra_frame, proprio, actions)
    with pytest.raises(
        DatasetError, match=r"a\.h5: pixels: 5 frames for 3 actions, expected T\+1 = 4"
    ):
        read_episode(tmp_path / "a.h5")
    raw_episode(tmp_path / "b.h5", pixels, proprio[:-1], actions)
    with pytest.raises(DatasetError, match=r"b\.h5: proprio: 3 rows for 3 actions"):
        read_episode(tmp_path / "b.h5")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pixels", lambda p: p.astype(np.float32) / 255, "pixels: dtype float32, expected uint8"),
        ("actions", lambda a: np.round(a).astype(np.int64), "actions: dtype int64, expected float"),
        (
            "actions",
            lambda a: np.where(np.eye(*a.shape, k=1) > 0, np.nan, a).astype(np.float32),
            r"actions: 1 non-finite values, the first nan at row 0 column 1",
        ),  # fmt: skip
        ("proprio", lambda q: np.full_like(q, np.inf), "proprio: 16 non-finite values"),
        ("actions", lambda a: a[:, 0], r"actions: shape \(3,\), expected \(T, A\)"),
        ("pixels", lambda p: p[..., :2], r"pixels: shape \(4, 4, 4, 2\), expected"),
    ],
)
def test_regression_wrong_dtypes_and_non_finite_values_are_refused_everywhere(
    tmp_path, field, value, message
):
    arrays = dict(zip(("pixels", "proprio", "actions"), good(T=3), strict=True))
    arrays[field] = value(arrays[field])
    root = dataset(tmp_path / "data", [good(T=3), tuple(arrays.values())])
    bad = episode_path(root, 1)
    with pytest.raises(DatasetError, match=message):  # the reader
        read_episode(bad)
    with pytest.raises(DatasetError, match=message):  # training's loader
        TrajectoryDataset(root).episodes()
    with pytest.raises(DatasetError, match=message):  # the summary
        summarize_dataset(root)
    [problem] = check_dataset(root)  # the check lists it
    assert problem.path == bad and problem.field == field
    with pytest.raises(DatasetError, match=message):  # the writer
        write_episode(tmp_path / "new.h5", Episode(**arrays))
    assert not (tmp_path / "new.h5").exists()


def test_regression_dataset_check_lists_every_bad_episode_and_passes_good_ones(tmp_path):
    pixels, proprio, actions = good(T=3)
    root = dataset(
        tmp_path / "data",
        [
            good(T=3),
            (pixels, proprio, np.concatenate([actions, actions[:1]])),  # T+1 actions
            good(T=5),
            (pixels[:, :2], proprio, actions),  # other image size
            good(T=2, p=3),  # other proprio size
        ],
    )
    problems = check_dataset(root)
    assert [(p.path.name, p.field) for p in problems] == [
        ("episode_000001.h5", "pixels"),  # 4 frames for 4 actions
        ("episode_000003.h5", "pixels"),
        ("episode_000004.h5", "proprio"),
    ]
    assert "per-step shape (2, 4, 3), but the dataset's first episode has (4, 4, 3)" in str(
        problems[1]
    )
    assert check_dataset(dataset(tmp_path / "ok", [good(T=3), good(T=5)])) == []


def test_regression_shape_mismatch_between_episodes_names_the_file_at_training_time(tmp_path):
    root = dataset(tmp_path / "data", [good(T=3), good(T=3, A=3)])
    with pytest.raises(DatasetError, match=r"episode_000001\.h5: actions: per-step shape \(3,\)"):
        TrajectoryDataset(root).episodes()


def test_regression_stray_or_unreadable_files_are_named(tmp_path):
    root = dataset(tmp_path / "data", [good()])
    (root / "episode_abc.h5").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"episode_abc\.h5: file name: expected episode_NNNNNN"):
        TrajectoryDataset(root)
    (root / "episode_abc.h5").unlink()
    with h5py.File(episode_path(root, 1), "w") as f:
        f["pixels"] = good()[0]
    with pytest.raises(DatasetError, match=r"episode_000001\.h5: proprio: missing"):
        summarize_dataset(root)
    (root / "meta.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"meta\.json: file: not valid JSON"):
        TrajectoryDataset(root)


def test_writer_refuses_float_pixels_from_a_control_loop(tmp_path):
    # the writer cast pixels to uint8: images in [0, 1] became all zeros
    writer = TrajectoryWriter(tmp_path, env_id="e", env_kwargs={})
    obs = {"pixels": np.full((4, 4, 3), 0.5, np.float32), "proprio": np.zeros(2, np.float32)}
    writer.append(obs, np.zeros(2))
    with pytest.raises(DatasetError, match="pixels: dtype float32, expected uint8"):
        writer.end_episode(obs)


def test_regression_rerun_with_other_settings_is_refused_and_says_where_to_write(tmp_path):
    job = CollectionJob(out_dir=str(tmp_path), env_id="wmplan/PointMaze-v0", episode_length=2)
    collect(job, n_episodes=1, progress=False)
    provenance = json.loads((tmp_path / "meta.json").read_text())["provenance"]
    assert provenance == {
        "source": "wmplan-collect",
        "policy": "persistent",
        "hold_prob": 0.7,
        "noise": 0.3,
        "seed": 0,
        "episode_length": 2,
        "control_dt": 0.5,
        "image_size": 64,
    }
    for change in ({"seed": 5}, {"policy": "random"}, {"episode_length": 3},
                   {"expert": {"aim_noise": 0.01}}):  # fmt: skip
        other = CollectionJob(**{**job.__dict__, **change})
        with pytest.raises(DatasetError, match=r"meta\.json: provenance: .*out=DIR"):
            collect(other, n_episodes=2, progress=False)
    smaller = CollectionJob(**{**job.__dict__, "env_kwargs": {"image_size": 32}})
    with pytest.raises(DatasetError, match=r"meta\.json: env_kwargs"):
        collect(smaller, n_episodes=2, progress=False)
    assert collect(job, n_episodes=2, progress=False) == 2  # the same settings extend it


def test_a_policy_mix_is_asked_for_recorded_per_part_and_resumes(tmp_path):
    # regression: the recipe's policy mixes (Wall, Reacher) were refused once provenance was kept
    job = CollectionJob(out_dir=str(tmp_path), env_id="wmplan/PointMaze-v0", episode_length=2)
    other = CollectionJob(**{**job.__dict__, "policy": "random"})
    collect(job, n_episodes=2, progress=False)
    assert collect(other, n_episodes=3, progress=False, extend=True) == 3
    parts = json.loads((tmp_path / "meta.json").read_text())["provenance"]
    assert [(p["first_episode"], p["policy"]) for p in parts] == [(0, "persistent"), (2, "random")]
    assert {k: v for k, v in parts[1].items() if k != "first_episode"} == other.provenance(
        gym.make(job.env_id).unwrapped
    )
    # each part resumes without extend; the mix is not written twice
    assert collect(other, n_episodes=4, progress=False) == 4
    assert collect(job, n_episodes=2, progress=False) == 2
    assert json.loads((tmp_path / "meta.json").read_text())["provenance"] == parts
    third = CollectionJob(**{**job.__dict__, "seed": 7})
    with pytest.raises(DatasetError, match=r"provenance: .*extend=true"):
        collect(third, n_episodes=5, progress=False)
    assert len(TrajectoryDataset(tmp_path)) == 4
    env = gym.make(job.env_id).unwrapped
    sizes = [part_size(tmp_path, j.provenance(env)) for j in (job, other, third)]
    assert sizes == [2, 2, 0]  # each part's episodes; none of a provenance not recorded


@pytest.mark.parametrize(
    "states, message",
    [
        (np.zeros((3, 2), np.float32), "3 rows for 3 actions, expected T\\+1 = 4"),
        (np.full((4, 2), np.nan, np.float32), "8 non-finite values"),
        (np.zeros(4, np.float32), r"shape \(4,\), expected \(T\+1, s\)"),
    ],
)
def test_bad_task_states_are_refused_by_writer_and_reader(tmp_path, states, message):
    pixels, proprio, actions = good(T=3)
    with pytest.raises(DatasetError, match=message):
        write_episode(tmp_path / "new.h5", Episode(pixels, proprio, actions, states))
    assert not (tmp_path / "new.h5").exists()
    raw_episode(tmp_path / "raw.h5", pixels, proprio, actions)
    with h5py.File(tmp_path / "raw.h5", "a") as f:
        f["states"] = states
    with pytest.raises(DatasetError, match=message):
        read_episode(tmp_path / "raw.h5")


def test_summary_counts_the_episodes_with_task_states(tmp_path):
    root = tmp_path / "data"
    writer = TrajectoryWriter(root, env_id="test/E-v0", env_kwargs={})
    write_episode(episode_path(root, 0), Episode(*good(T=3)))
    write_episode(episode_path(root, 1), Episode(*good(T=2), np.ones((3, 5), np.float32)))
    write_episode(episode_path(root, 2), Episode(*good(T=2), np.ones((3, 4), np.float32)))
    del writer
    [problem] = check_dataset(root)
    assert problem.path == episode_path(root, 2) and problem.field == "states"
    episode_path(root, 2).unlink()
    summary = summarize_dataset(root)
    assert summary.states_shape == (5,) and summary.episodes_with_states == 1
