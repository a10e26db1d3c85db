"""`wmplan-train mode=predictor init_from=<world model>`: the model's predictor trained further.

Known answers: at learning rate 0 the written predictor is the source's, bit for bit, with its
statistics and provenance; at a positive rate its weights move; a frame skip other than the
model's is refused by name, and so is writing over the source; ``n_episodes`` trains on the
dataset's first episodes and is recorded."""

import json
import subprocess
import sys

import torch
from safetensors.torch import load_file

from worldmodels.encoder_loading import save_encoder
from worldmodels.vit import DinoVisionTransformer

TINY = ["threads=1", "train.batch_size=16", "train.val_every=5", "train.checkpoint_every=5",
        "predictor.dim=32", "predictor.depth=1"]  # fmt: skip


def _train(tmp_path, name, *overrides):
    args = [
        sys.executable,
        "-m",
        "benchmarks.train",
        "mode=predictor",
        f"dataset={tmp_path / 'data'}",
        f"encoder={tmp_path / 'encoder'}",
        f"out={tmp_path / name}",
        *TINY,
        *overrides,
        f"hydra.run.dir={tmp_path / 'h' / name}",
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_fine_tuning_starts_from_the_source_model_and_keeps_its_settings(tmp_path):
    collect = [sys.executable, "-m", "benchmarks.collect", f"out={tmp_path / 'data'}",
               "n_episodes=6", "episode_length=8", f"hydra.run.dir={tmp_path / 'h0'}"]  # fmt: skip
    subprocess.run(collect, check=True, capture_output=True, timeout=300)
    torch.manual_seed(0)
    vit = DinoVisionTransformer(img_size=64, patch_size=16, embed_dim=16, depth=1, num_heads=2)
    save_encoder(vit, tmp_path / "encoder")
    assert _train(tmp_path, "source", "train.steps=10", "n_episodes=4").returncode == 0

    source = tmp_path / "source"
    frozen = _train(tmp_path, "frozen", f"init_from={source}", "train.steps=5", "train.lr=0.0")
    moved = _train(
        tmp_path,
        "moved",
        f"init_from={source}",
        "train.steps=5",
        "train.lr=1e-2",
        "predictor.dim=64",
    )  # predictor.dim is ignored: the architecture is the source's
    assert frozen.returncode == 0 and moved.returncode == 0, frozen.stderr + moved.stderr
    weights = {d: load_file(str(tmp_path / d / "predictor.safetensors"))
               for d in ("source", "frozen", "moved")}  # fmt: skip
    assert weights["frozen"].keys() == weights["source"].keys()
    source_weights = weights["source"]
    assert all(torch.equal(weights["frozen"][k], source_weights[k]) for k in source_weights)
    assert any(not torch.equal(weights["moved"][k], source_weights[k]) for k in source_weights)
    configs = {d: json.loads((tmp_path / d / "world_model.json").read_text())
               for d in ("source", "frozen", "moved")}  # fmt: skip
    for name in ("frozen", "moved"):
        assert configs[name]["predictor"] == configs["source"]["predictor"]
        assert configs[name]["action_mean"] == configs["source"]["action_mean"]
        assert configs[name]["extra"]["init_from"] == str(source)
        assert configs[name]["extra"]["init_from_provenance"] == configs["source"]["extra"]
        assert len(configs[name]["extra"]["log"]) == 1  # one validation row at step 5
    assert configs["source"]["extra"]["n_episodes"] == 4  # the first 4 of the 6 episodes
    assert configs["moved"]["extra"]["n_episodes"] == 6

    run = _train(tmp_path, "skip2", f"init_from={source}", "train.steps=5", "train.frameskip=2")
    assert run.returncode != 0
    assert "train.frameskip=2 differs from the frame skip of init_from=" in run.stderr
    run = _train(tmp_path, "source", f"init_from={source}", "train.steps=5")
    assert run.returncode != 0 and "init_from and out are both" in run.stderr
