"""``wmplan-dataset``: check and summarise a trajectory dataset, optionally render one episode
to mp4.

Run ``python -m benchmarks.dataset_info path=data/pointmaze`` to check every episode against
the format (a dataset with bad episodes lists each, with its file and field, and exits with an
error) and print episodes, steps, episode lengths, array shapes, the environment and
per-dimension action statistics (read from the actions alone); add ``video=EP
[out=episode.mp4]`` to write episode ``EP`` (all its T+1 frames, upscaled, step index in the
top-left corner) as an mp4.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import imageio.v3 as iio
from omegaconf import DictConfig

from benchmarks.videos import episode_video
from envs.dataset import TrajectoryDataset
from envs.dataset_summary import check_dataset, format_summary, summarize_dataset
from envs.errors import DatasetError


@hydra.main(config_path="conf", config_name="dataset_info", version_base="1.3")
def main(cfg: DictConfig) -> None:
    problems = check_dataset(cfg.path)
    if problems:
        for problem in problems:
            print(f"bad episode {problem}")
        n_files = len(TrajectoryDataset(cfg.path))
        raise DatasetError(
            cfg.path, "episodes", f"{len(problems)} of {n_files} episodes are bad (listed above)"
        )
    print(format_summary(summarize_dataset(cfg.path)))
    if cfg.video is None:
        return
    dataset = TrajectoryDataset(cfg.path)
    if not 0 <= cfg.video < len(dataset):
        raise ValueError(f"video={cfg.video}: the dataset has episodes 0..{len(dataset) - 1}")
    frames = episode_video(dataset.episode(cfg.video).pixels, cfg.scale, cfg.step_index)
    out = Path(cfg.out or f"episode_{cfg.video:06d}.mp4")
    out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out, frames, fps=cfg.fps, codec="libx264", macro_block_size=1)
    print(f"episode {cfg.video}: {len(frames)} frames written to {out}")


if __name__ == "__main__":
    main()
