"""`torchrun --nproc-per-node 2 -m benchmarks.train` (DDP, gloo on CPU) trains like one
process with the same global batch: same loss curve and weights within float tolerance."""

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from worldmodels.encoder_loading import save_encoder
from worldmodels.vit import DinoVisionTransformer


def _train_args(data, encoder, out, run_dir, precision="fp32"):
    return [
        "-m", "benchmarks.train", "mode=predictor", f"dataset={data}", f"encoder={encoder}",
        f"out={out}", "train.steps=12", "train.batch_size=16", "train.val_every=4",
        "train.checkpoint_every=100", "+train.warmup_steps=2", "threads=1", "predictor.dim=32",
        "predictor.depth=1", f"train.precision={precision}", f"hydra.run.dir={run_dir}",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def dataset_and_encoder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    data, encoder = tmp / "data", tmp / "encoder"
    collect = [sys.executable, "-m", "benchmarks.collect", f"out={data}", "n_episodes=6",
               "episode_length=8", "workers=1", f"hydra.run.dir={tmp / 'h0'}"]  # fmt: skip
    subprocess.run(collect, check=True, capture_output=True, timeout=300)
    torch.manual_seed(0)
    vit = DinoVisionTransformer(img_size=64, patch_size=16, embed_dim=16, depth=1, num_heads=2)
    save_encoder(vit, encoder)
    return data, encoder


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _log(out):
    return json.loads((out / "world_model.json").read_text())["extra"]["log"]


def test_two_process_gloo_ddp_matches_one_process(dataset_and_encoder, tmp_path):
    data, encoder = dataset_and_encoder
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, *_train_args(data, encoder, one, tmp_path / "h1")])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node", "2"]  # fmt: skip
    _run([*torchrun, *_train_args(data, encoder, two, tmp_path / "h2")])
    logs = [_log(one), _log(two)]
    assert [row["step"] for row in logs[0]] == [row["step"] for row in logs[1]] == [4, 8, 12]
    for a, b in zip(*logs, strict=True):
        for key in ("train_loss", "val_loss", "val_rollout_h1"):
            assert b[key] == pytest.approx(a[key], rel=1e-4), key
    weights = [load_file(str(d / "predictor.safetensors")) for d in (one, two)]
    for name, value in weights[0].items():
        torch.testing.assert_close(weights[1][name], value, rtol=1e-4, atol=1e-5)
    # the loss went down: the run trained
    assert logs[0][-1]["val_loss"] < logs[0][0]["val_loss"]


def test_bf16_autocast_trains_close_to_fp32(dataset_and_encoder, tmp_path):
    data, encoder = dataset_and_encoder
    fp32, bf16 = tmp_path / "fp32", tmp_path / "bf16"
    _run([sys.executable, *_train_args(data, encoder, fp32, tmp_path / "h1")])
    _run([sys.executable, *_train_args(data, encoder, bf16, tmp_path / "h2", "bf16")])
    a, b = _log(fp32)[-1], _log(bf16)[-1]
    assert b["val_loss"] == pytest.approx(a["val_loss"], rel=0.05)
    assert b["train_loss"] != a["train_loss"]  # bf16 really ran
