"""Predictor training throughput: windows per second of one optimiser step, eager or
compiled, fp32 or bf16, and the fraction of the device's matrix-multiply rate it reaches.

Trains a random-weight predictor of the configured size on random windows with the project's
loss (`MultiStepLoss`: teacher forcing over `frames` frames, plus `steps` open-loop steps)
and AdamW, as `train_loop` does it: the loss under bf16 autocast or in fp32, backward, step.
Each variant starts from the same weights and batch, so their first losses must agree (to
bf16's precision). A step's FLOPs (forward and backward) are counted once on the eager model
with `torch.utils.flop_counter.FlopCounterMode`; the ceiling of a variant is a square matrix
multiply in its precision on the same device (model FLOP utilisation = achieved / ceiling).
Writes ``train_speed.json`` into the hydra run directory. Run
``python -m benchmarks.train_speed`` (CPU, the bundled models' size) or, on a GPU,
``python -m benchmarks.train_speed device=cuda size=dinowm``.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks.speed import flops, timed
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.predictor_loss import MultiStepLoss, Windows

logger = logging.getLogger(__name__)


def random_windows(
    batch_size: int, n_frames: int, size: DictConfig, device: torch.device
) -> Windows:
    """(B, T, P, D) inputs and targets and (B, T, A) actions of standard-normal entries,
    B = `batch_size`, T = `n_frames`, P, D and A those of `size`."""
    generator = torch.Generator().manual_seed(0)
    B, P, D, A = batch_size, size.tokens, size.token_dim, size.action_dim
    frames = torch.randn(B, n_frames + 1, P, D, generator=generator)
    actions = torch.randn(B, n_frames, A, generator=generator)
    return Windows(frames[:, :-1].to(device), actions.to(device), frames[:, 1:].to(device))


def matmul_rate(size: int, dtype: torch.dtype, repeats: int, device: torch.device) -> float:
    """FLOP/s of a (size x size) @ (size x size) product in `dtype`."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    return 2 * size**3 / timed(lambda: a @ b, repeats, device)


@hydra.main(config_path="conf", config_name="train_speed", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    size = cfg.sizes[cfg.size]
    torch.manual_seed(0)
    config = PredictorConfig(
        token_dim=size.token_dim,
        n_tokens=size.tokens,
        action_dim=size.action_dim,
        max_frames=max(cfg.frames, cfg.steps),
        **size.predictor,
    )
    initial = LatentPredictor(config)
    torch.nn.init.normal_(initial.token_out.weight, std=0.02)  # not the identity map
    loss_fn = MultiStepLoss(n_frames=cfg.frames, steps=cfg.steps, num_hist=cfg.frames)
    windows = random_windows(cfg.batch_size, loss_fn.window_frames, size, device)
    step_flops = 0
    rows = []
    for name, options in cfg.variants.items():
        model = copy.deepcopy(initial).to(device)
        module = torch.compile(model) if options.compile else model
        optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=options.bf16)
        with autocast:
            first_loss = loss_fn(module, windows).item()

        def train_step(module: torch.nn.Module = module, optim=optim, autocast=autocast) -> None:
            with autocast:
                loss = loss_fn(module, windows)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()

        seconds = timed(train_step, cfg.repeats, device)  # its warm-up call compiles
        if not step_flops:
            step_flops = flops(train_step)  # eager first: the counter sees every operation
        dtype = torch.bfloat16 if options.bf16 else torch.float32
        ceiling = matmul_rate(cfg.matmul_size, dtype, cfg.repeats, device)
        rows.append(
            {
                "variant": name,
                **OmegaConf.to_container(options),
                "step_s": seconds,
                "windows_per_s": cfg.batch_size / seconds,
                "frames_per_s": cfg.batch_size * loss_fn.window_frames / seconds,
                "flop_per_s": step_flops / seconds,
                "matmul_flop_per_s": ceiling,
                "mfu": step_flops / seconds / ceiling,
                "first_loss": first_loss,
            }
        )
    for row in rows:
        row["speedup_vs_first"] = rows[0]["step_s"] / row["step_s"]
        logger.info(
            "%-14s step %8.2f ms %9.1f windows/s %8.1f TFLOP/s (%4.1f%% of %s matmul) "
            "speed-up %5.2fx first loss %.5f",
            row["variant"],
            1e3 * row["step_s"],
            row["windows_per_s"],
            row["flop_per_s"] / 1e12,
            100 * row["mfu"],
            "bf16" if row["bf16"] else "fp32",
            row["speedup_vs_first"],
            row["first_loss"],
        )
    report = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "step_flops": step_flops,
        "rows": rows,
        "config": OmegaConf.to_container(cfg),
    }
    out = Path(HydraConfig.get().runtime.output_dir) / "train_speed.json"
    out.write_text(json.dumps(report, indent=2))
    logger.info("written to %s", out)


if __name__ == "__main__":
    main()
