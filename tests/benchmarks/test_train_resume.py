"""SIGKILL during `wmplan-train mode=predictor` or `mode=encoder`, then the same command: the
run resumes from its last training-state checkpoint and ends with the uninterrupted run's log
and weights."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from worldmodels.encoder_loading import save_encoder
from worldmodels.vit import DinoVisionTransformer

MODES = {  # mode: (overrides, training-state file, output config, weights, log rows)
    "predictor": (
        ["train.steps=300", "train.batch_size=32", "train.val_every=25",
         "train.checkpoint_every=25", "predictor.dim=32", "predictor.depth=1"],
        "training_state.safetensors", "world_model.json", "predictor.safetensors", 12,
    ),
    "encoder": (
        ["pretrain.steps=200", "pretrain.batch_size=16", "pretrain.checkpoint_every=20",
         "vit.embed_dim=16", "vit.depth=1"],
        "encoder_training_state.safetensors", "encoder.json", "encoder.safetensors", 5,
    ),
}  # fmt: skip


def _command(mode, data, encoder, out, run_dir):
    return [
        sys.executable, "-m", "benchmarks.train", f"mode={mode}", f"dataset={data}",
        f"encoder={encoder}", f"out={out}", "threads=1", *MODES[mode][0],
        f"hydra.run.dir={run_dir}",
    ]  # fmt: skip


@pytest.mark.parametrize("mode", sorted(MODES))
def test_sigkilled_training_resumes_to_the_same_result(tmp_path, mode):
    _, state_file, config_file, weights_file, n_rows = MODES[mode]
    data, encoder = tmp_path / "data", tmp_path / "encoder"
    collect = [sys.executable, "-m", "benchmarks.collect", f"out={data}", "n_episodes=6",
               "episode_length=8", f"hydra.run.dir={tmp_path / 'h0'}"]  # fmt: skip
    subprocess.run(collect, check=True, capture_output=True, timeout=300)
    torch.manual_seed(0)
    vit = DinoVisionTransformer(img_size=64, patch_size=16, embed_dim=16, depth=1, num_heads=2)
    save_encoder(vit, encoder)

    whole = tmp_path / "whole"
    subprocess.run(_command(mode, data, encoder, whole, tmp_path / "h1"), check=True,
                   capture_output=True, timeout=300)  # fmt: skip

    killed = tmp_path / "killed"
    state = killed / state_file
    process = subprocess.Popen(_command(mode, data, encoder, killed, tmp_path / "h2"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 240
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert state.exists() and not (killed / config_file).exists(), "not killed mid-run"

    subprocess.run(_command(mode, data, encoder, killed, tmp_path / "h3"), check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    assert not state.exists()  # removed once the model is written
    logs = [json.loads((d / config_file).read_text())["extra"]["log"] for d in (whole, killed)]
    assert logs[0] == logs[1] and len(logs[0]) == n_rows
    weights = [load_file(str(d / weights_file)) for d in (whole, killed)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
