"""Predictor causality, rollout semantics and world-model checkpoints."""

import json

import pytest
import torch

from worldmodels import bundled_world_model
from worldmodels.checkpoint import load_world_model, save_world_model
from worldmodels.predictor import LatentPredictor, PredictorConfig, frame_causal_mask
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel, pool_patch_tokens


def _predictor(seed: int = 0, **kwargs) -> LatentPredictor:
    torch.manual_seed(seed)
    config = PredictorConfig(
        token_dim=8, n_tokens=4, action_dim=2, dim=16, depth=2, num_heads=2, **kwargs
    )
    predictor = LatentPredictor(config)
    torch.nn.init.normal_(predictor.token_out.weight, std=0.1)  # not the identity start
    return predictor.eval()


def _world_model(seed: int = 0, num_hist: int = 2) -> WorldModel:
    torch.manual_seed(seed)
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    return WorldModel(
        encoder=encoder,
        predictor=_predictor(seed),
        image_size=32,
        pool=2,
        num_hist=num_hist,
        action_mean=torch.tensor([0.1, -0.2]),
        action_std=torch.tensor([0.5, 2.0]),
    )


def test_frame_causal_mask_blocks_the_future():
    mask = frame_causal_mask(3, 2, torch.device("cpu"))
    expected = torch.tensor([[1, 1, 0, 0, 0, 0]] * 2 + [[1, 1, 1, 1, 0, 0]] * 2 + [[1] * 6] * 2)
    assert torch.equal(mask, expected.bool())


def test_future_frame_cannot_change_past_predictions():
    predictor = _predictor()
    z = torch.randn(2, 4, 4, 8)
    actions = torch.randn(2, 4, 2)
    out = predictor(z, actions)
    z2, a2 = z.clone(), actions.clone()
    z2[:, 3] += 5.0
    a2[:, 3] -= 3.0
    out2 = predictor(z2, a2)
    torch.testing.assert_close(out[:, :3], out2[:, :3])
    assert not torch.allclose(out[:, 3], out2[:, 3])


def test_rollout_matches_step_by_step_prediction():
    wm = _world_model(num_hist=2)
    z_hist = torch.randn(2, 1, 4, 8)
    actions = torch.randn(2, 3, 4, 2)
    pred = wm.rollout(z_hist, actions)
    assert pred.shape == (2, 3, 4, 4, 8)
    # reference: candidate 1 of problem 0, frames fed back by hand with a 2-frame window
    a = wm.normalize_actions(actions[0, 1])
    frames = [z_hist[0, 0]]
    for h in range(4):
        window = torch.stack(frames[-2:])[None]
        acts = a[max(0, h - 1) : h + 1][None]
        frames.append(wm.predictor(window, acts)[0, -1])
    torch.testing.assert_close(pred[0, 1], torch.stack(frames[1:]), rtol=1e-5, atol=1e-5)


def test_rollout_uses_past_actions_for_longer_history():
    wm = _world_model(num_hist=2)
    z_hist = torch.randn(1, 2, 4, 8)
    actions = torch.randn(1, 2, 3, 2)
    past = torch.randn(1, 1, 2)
    with_past = wm.rollout(z_hist, actions, past_actions=past)
    only_last = wm.rollout(z_hist, actions)
    assert not torch.allclose(with_past, only_last)
    ref = wm.predictor(z_hist, wm.normalize_actions(torch.cat([past, actions[:, :1, 0]], 1)))
    torch.testing.assert_close(with_past[0, 0, 0], ref[0, -1], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="past_actions"):
        wm.rollout(z_hist, actions, past_actions=torch.randn(1, 3, 2))


def test_pool_patch_tokens_averages_blocks():
    tokens = torch.arange(16.0).view(1, 16, 1)  # 4x4 grid, value = index
    pooled = pool_patch_tokens(tokens, (4, 4), 2)
    assert pooled.flatten().tolist() == [2.5, 4.5, 10.5, 12.5]


def test_encode_rejects_wrong_image_shape():
    wm = _world_model()
    assert wm.encode(torch.zeros(2, 3, 32, 32, 3, dtype=torch.uint8)).shape == (2, 3, 4, 8)
    with pytest.raises(ValueError, match="32x32"):
        wm.encode(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8))


def test_checkpoint_round_trip(tmp_path):
    wm = _world_model(num_hist=2)
    save_world_model(wm, tmp_path / "wm", extra={"env_id": "x"})
    loaded = load_world_model(tmp_path / "wm")
    pixels = torch.randint(0, 256, (2, 1, 32, 32, 3), dtype=torch.uint8)
    z = wm.encode(pixels)
    torch.testing.assert_close(loaded.encode(pixels), z, rtol=0, atol=0)
    actions = torch.randn(2, 5, 3, 2)
    torch.testing.assert_close(loaded.rollout(z, actions), wm.rollout(z, actions))
    assert loaded.num_hist == 2 and not any(p.requires_grad for p in loaded.parameters())


def test_missing_or_corrupted_checkpoint_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="world_model.json"):
        load_world_model(tmp_path / "nowhere")
    save_world_model(_world_model(), tmp_path / "wm")
    (tmp_path / "wm" / "predictor.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="SHA-256 differs"):
        load_world_model(tmp_path / "wm")
    meta = json.loads((tmp_path / "wm" / "world_model.json").read_text())
    del meta["sha256"]  # as saved before digests were recorded
    (tmp_path / "wm" / "world_model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="predictor.safetensors: file: could not read"):
        load_world_model(tmp_path / "wm")
    save_world_model(_world_model(), tmp_path / "wm2")
    meta = json.loads((tmp_path / "wm2" / "world_model.json").read_text())
    meta["predictor"]["dim"] = 32
    (tmp_path / "wm2" / "world_model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not match"):
        load_world_model(tmp_path / "wm2")


def test_config_values_out_of_range_name_the_field():
    with pytest.raises(ValueError, match="PredictorConfig.depth"):
        PredictorConfig(token_dim=8, n_tokens=4, action_dim=2, depth=0)
    with pytest.raises(ValueError, match="num_heads"):
        PredictorConfig(token_dim=8, n_tokens=4, action_dim=2, dim=10, num_heads=4)


@pytest.mark.parametrize("T", [1, 3])
def test_cached_rollout_equals_the_uncached_one(T):
    world_model = _world_model(num_hist=8)
    B, N, H = 2, 5, 5
    z_hist = torch.randn(B, T, 4, 8)
    actions = torch.randn(B, N, H, 2)
    past = torch.randn(B, T - 1, 2) if T > 1 else None
    with torch.no_grad():
        cached = world_model.rollout(z_hist, actions, past)
        plain = world_model.rollout(z_hist, actions, past, use_cache=False)
    torch.testing.assert_close(cached, plain, rtol=0, atol=1e-5)
    assert (plain[:, :, 1:] - plain[:, :, :1]).abs().max() > 1e-3  # the steps differ


def test_cache_is_used_only_while_the_window_does_not_slide(monkeypatch):
    def refuse(*args):
        raise AssertionError("cached rollout used")

    z_hist, actions = torch.randn(1, 1, 4, 8), torch.randn(1, 3, 5, 2)
    sliding = _world_model(num_hist=2)
    monkeypatch.setattr(sliding, "_rollout_cached", refuse)
    sliding.rollout(z_hist, actions)  # 1 + 5 - 1 frames > 2: the window slides
    fitting = _world_model(num_hist=5)
    monkeypatch.setattr(fitting, "_rollout_cached", refuse)
    with pytest.raises(AssertionError, match="cached rollout used"):
        fitting.rollout(z_hist, actions)


def test_bundled_world_model_lookup():
    path = bundled_world_model("wmplan/PointMaze-v0")
    assert (path / "world_model.json").is_file()
    with pytest.raises(ValueError, match="no bundled world model for wmplan/Nope-v0"):
        bundled_world_model("wmplan/Nope-v0")


def test_frameskip_is_saved_checked_and_defaults_to_one(tmp_path):
    torch.manual_seed(0)
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    config = PredictorConfig(token_dim=8, n_tokens=4, action_dim=6, dim=16, depth=1, num_heads=2)
    wm = WorldModel(
        encoder, LatentPredictor(config), 32, 2, 1, torch.zeros(6), torch.ones(6), frameskip=3
    )
    assert (wm.frameskip, wm.action_dim, wm.env_action_dim) == (3, 6, 2)
    save_world_model(wm, tmp_path / "wm", extra={"train": {"frameskip": 3}})
    loaded = load_world_model(tmp_path / "wm")
    assert (loaded.frameskip, loaded.env_action_dim) == (3, 2)
    # A checkpoint saved before the frame skip was recorded loads as one step per frame.
    config_path = tmp_path / "wm" / "world_model.json"
    meta = json.loads(config_path.read_text())
    del meta["frameskip"], meta["extra"]["train"]
    config_path.write_text(json.dumps(meta))
    assert load_world_model(tmp_path / "wm").frameskip == 1
    assert load_world_model(bundled_world_model("wmplan/PointMaze-v0")).frameskip == 1
    for frameskip, message in [(4, "divide"), (0, "integer >= 1"), ("2", "integer >= 1")]:
        config_path.write_text(json.dumps({**meta, "frameskip": frameskip}))
        with pytest.raises(ValueError, match=message):
            load_world_model(tmp_path / "wm")
    config_path.write_text(
        json.dumps({**meta, "frameskip": 2, "extra": {"train": {"frameskip": 3}}})
    )
    with pytest.raises(ValueError, match="differs from the training run's train.frameskip 3"):
        load_world_model(tmp_path / "wm")
    with pytest.raises(ValueError, match=r"action statistics must have shape \(6,\)"):
        WorldModel(encoder, LatentPredictor(config), 32, 2, 1, torch.zeros(2), torch.ones(2))
