"""Minari import and export with the real ``minari`` library: datasets recorded by its
``DataCollector`` over our environments, and our collected datasets exported and read back."""

import gymnasium as gym
import h5py
import numpy as np
import pytest

pytest.importorskip("jax", reason="minari's DataCollector needs minari[create]")  # noqa: E402

import minari  # noqa: E402
from minari import DataCollector, StepDataCallback  # noqa: E402

import envs  # noqa: E402, F401  (registers the environments)
from envs.collect import CollectionJob, collect  # noqa: E402
from envs.dataset import TrajectoryDataset  # noqa: E402
from envs.minari_io import export_minari, import_minari, observation_keys  # noqa: E402

ENV_ID, SIZE, STEPS = "wmplan/PointMaze-v0", 16, 5


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


class _StatesOnly(StepDataCallback):
    """Drops the pixels from the observation: a dataset of states, no images."""

    def __call__(self, env, obs, info, **kwargs):
        return super().__call__(env, {"proprio": obs["proprio"]}, info, **kwargs)


def _record(dataset_id, n_episodes, **collector_kwargs):
    """Records ``n_episodes`` random episodes of ``STEPS`` steps with minari's DataCollector.

    Returns:
        The observations [(STEPS+1) dicts] and actions [(STEPS, 2)] of each episode, as the
        environment returned and received them.
    """
    env = DataCollector(gym.make(ENV_ID, image_size=SIZE), **collector_kwargs)
    rng = np.random.default_rng(0)
    recorded = []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=100 + episode)
        observations, actions = [obs], []
        for _ in range(STEPS):
            action = rng.uniform(-1, 1, 2).astype(np.float32)
            obs, *_ = env.step(action)
            observations.append(obs)
            actions.append(action)
        recorded.append((observations, np.stack(actions)))
    env.create_dataset(dataset_id, algorithm_name="random", author="test", description="test")
    env.close()
    return recorded


def test_data_collector_dataset_imports_frame_by_frame(tmp_path):
    recorded = _record("wmplan/maze/random-v2", 3, jpeg_encoding=False)
    assert import_minari("wmplan/maze/random-v2", tmp_path / "out", image_size=SIZE) == 3
    dataset = TrajectoryDataset(tmp_path / "out", env_id="minari/wmplan/maze/random-v2")
    kwargs = dataset.meta["env_kwargs"]
    assert (kwargs["dataset_id"], kwargs["dataset_version"]) == ("wmplan/maze/random-v2", 2)
    assert kwargs["minari_version"] == minari.__version__ and kwargs["env_spec_id"] == ENV_ID
    assert (kwargs["image_key"], kwargs["state_key"], kwargs["images"]) == (
        "pixels",
        "proprio",
        "observations",
    )
    for episode, (observations, actions) in zip(dataset.episodes(), recorded, strict=True):
        np.testing.assert_array_equal(episode.pixels, [o["pixels"] for o in observations])
        np.testing.assert_array_equal(episode.proprio, [o["proprio"] for o in observations])
        np.testing.assert_array_equal(episode.actions, actions)


def test_jpeg_frames_are_those_minari_reads(tmp_path, minari_root):
    _record("maze-jpeg-v0", 2)  # DataCollector's default: frames stored as JPEG
    import_minari(minari_root / "maze-jpeg-v0", tmp_path / "out", image_size=SIZE, episodes=[1])
    (episode,) = TrajectoryDataset(tmp_path / "out").episodes()
    np.testing.assert_array_equal(
        episode.pixels, minari.load_dataset("maze-jpeg-v0")[1].observations["pixels"]
    )


def test_states_only_dataset_is_rendered_by_replay(tmp_path, minari_root):
    proprio = gym.make(ENV_ID, image_size=SIZE).observation_space["proprio"]
    states = gym.spaces.Dict({"proprio": proprio})
    recorded = _record(
        "maze-states-v0", 2, step_data_callback=_StatesOnly, observation_space=states
    )
    with pytest.raises(ValueError, match="stores no image observation .* render=true"):
        import_minari("maze-states-v0", tmp_path / "a", image_size=SIZE)
    import_minari("maze-states-v0", tmp_path / "b", image_size=SIZE, render=True)
    dataset = TrajectoryDataset(tmp_path / "b")
    assert dataset.meta["env_kwargs"]["images"] == "rendered"
    for episode, (observations, actions) in zip(dataset.episodes(), recorded, strict=True):
        np.testing.assert_array_equal(episode.pixels, [o["pixels"] for o in observations])
        np.testing.assert_array_equal(episode.proprio, [o["proprio"] for o in observations])
        np.testing.assert_array_equal(episode.actions, actions)
    with h5py.File(minari_root / "maze-states-v0" / "data" / "main_data.hdf5", "a") as f:
        f["episode_1"].attrs["seed"] = 7  # not the seed episode 1 was recorded with
    with pytest.raises(ValueError, match="episode 1: the replay diverges .* at step 0"):
        import_minari("maze-states-v0", tmp_path / "c", image_size=SIZE, render=True)


def test_wmplan_to_minari_to_wmplan_is_identical(tmp_path):
    job = CollectionJob(str(tmp_path / "ours"), ENV_ID, 4, seed=3, env_kwargs={"image_size": SIZE})
    collect(job, n_episodes=3, workers=1, progress=False)
    exported = export_minari(tmp_path / "ours", "wmplan/maze/exported-v0", author="test")
    assert exported.total_episodes == 3 and exported.total_steps == 12
    assert exported.recover_environment().spec.kwargs["image_size"] == SIZE
    first = exported[0]
    assert (
        first.truncations.tolist() == [False, False, False, True] and not first.terminations.any()
    )
    assert np.isnan(first.rewards).all()
    import_minari("wmplan/maze/exported-v0", tmp_path / "back", image_size=SIZE)
    ours, back = TrajectoryDataset(tmp_path / "ours"), TrajectoryDataset(tmp_path / "back")
    for a, b in zip(ours.episodes(), back.episodes(), strict=True):
        np.testing.assert_array_equal(a.pixels, b.pixels)
        np.testing.assert_array_equal(a.proprio, b.proprio)
        np.testing.assert_array_equal(a.actions, b.actions)


def test_bad_requests_are_named(tmp_path, minari_root):
    _record("maze-small-v0", 1, jpeg_encoding=False)
    with pytest.raises(
        ValueError, match=r"no image observation 'rgb'; its image keys are \['pixels'\]"
    ):
        import_minari("maze-small-v0", tmp_path / "a", image_size=SIZE, image_key="rgb")
    with pytest.raises(ValueError, match=r"has episodes 0..0, not \[4\]"):
        import_minari("maze-small-v0", tmp_path / "b", image_size=SIZE, episodes=[4])
    with pytest.raises(
        FileNotFoundError, match="no Minari dataset 'maze-none-v0'.*MINARI_DATASETS_PATH"
    ):
        import_minari("maze-none-v0", tmp_path / "c", image_size=SIZE)
    with pytest.raises(FileNotFoundError, match="is not a Minari dataset"):
        import_minari(tmp_path, tmp_path / "d", image_size=SIZE)


def test_observation_keys_of_dict_spaces():
    box = gym.spaces.Box(-1.0, 1.0, (3,))
    image = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)
    maze = gym.spaces.Dict({"observation": box, "achieved_goal": box, "desired_goal": box})
    with pytest.raises(
        ValueError, match=r"state observations \['achieved_goal', .*state_key=<key>"
    ):
        observation_keys(maze, None, None, "d4rl")
    assert observation_keys(maze, None, "observation", "d4rl") == (None, "observation")
    assert observation_keys(gym.spaces.Dict({"rgb": image, "q": box}), None, None, "x") == (
        "rgb",
        "q",
    )
    assert observation_keys(image, None, None, "x") == ("", None)
    assert observation_keys(box, None, None, "x") == (None, "")
    with pytest.raises(ValueError, match="neither a Dict nor a Box"):
        observation_keys(gym.spaces.Discrete(3), None, None, "x")
