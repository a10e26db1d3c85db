"""The visualisation decoder: shapes, checkpoints, training that leaves the world model
untouched and learns, and the imagined-versus-real frames."""

import json

import numpy as np
import pytest
import torch

from worldmodels.checkpoint import (
    DECODER_DIR,
    encoder_digest,
    load_world_model_decoder,
    save_world_model,
)
from worldmodels.decoder import DecoderConfig, LatentDecoder, load_decoder, save_decoder
from worldmodels.imagination import imagined_frames
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.train_decoder import DecoderTrainConfig, train_decoder
from worldmodels.training_data import FlatEpisodes
from worldmodels.training_state import load_training_state
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel


def _world_model(seed: int = 0) -> WorldModel:
    torch.manual_seed(seed)
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=16, depth=1, num_heads=2)
    predictor = LatentPredictor(
        PredictorConfig(token_dim=16, n_tokens=16, action_dim=2, dim=16, depth=1, num_heads=2)
    )
    torch.nn.init.normal_(predictor.token_out.weight, std=0.1)
    return WorldModel(
        encoder=encoder,
        predictor=predictor.eval(),
        image_size=32,
        pool=1,
        num_hist=2,
        action_mean=torch.zeros(2),
        action_std=torch.ones(2),
    )


def _square_episodes(n_episodes: int = 12, length: int = 20) -> FlatEpisodes:
    """A 6-px white square moving on black, one frame per position: the decoder must place it."""
    rng = np.random.default_rng(0)
    n = n_episodes * length
    pixels = np.zeros((n, 32, 32, 3), np.uint8)
    for i, (r, c) in enumerate(rng.integers(0, 26, size=(n, 2))):
        pixels[i, r : r + 6, c : c + 6] = 255
    episode_of = np.repeat(np.arange(n_episodes), length)
    next_index = np.arange(1, n + 1)
    next_index[length - 1 :: length] = -1
    zeros = np.zeros((n, 2), np.float32)
    return FlatEpisodes(pixels, zeros, zeros, next_index, episode_of)


def test_decoder_maps_tokens_to_images_of_the_configured_size():
    decoder = LatentDecoder(DecoderConfig(token_dim=16, grid=(2, 2), image_size=32, channels=64))
    images = decoder(torch.randn(5, 3, 4, 16))
    assert images.shape == (5, 3, 3, 32, 32)
    assert images.min() >= 0 and images.max() <= 1
    with pytest.raises(ValueError, match=r"tokens \(\.\.\., 4, 16\)"):
        decoder(torch.randn(2, 9, 16))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid": (2, 2), "image_size": 24}, "power of two"),
        ({"grid": (2, 4), "image_size": 32}, "square"),
        ({"grid": (2, 2), "image_size": 32, "channels": 0}, ">= 1"),
    ],
)
def test_bad_decoder_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DecoderConfig(token_dim=16, **kwargs)


def test_decoder_checkpoint_round_trip_and_corruption(tmp_path):
    torch.manual_seed(0)
    decoder = LatentDecoder(DecoderConfig(token_dim=8, grid=(4, 4), image_size=16)).eval()
    save_decoder(decoder, tmp_path / "dec")
    loaded = load_decoder(tmp_path / "dec")
    tokens = torch.randn(3, 16, 8)
    assert torch.equal(loaded(tokens), decoder(tokens))
    (tmp_path / "dec" / "decoder.json").write_text("{not json")
    with pytest.raises(ValueError, match="could not read decoder config"):
        load_decoder(tmp_path / "dec")
    with pytest.raises(FileNotFoundError, match="decoder file not found"):
        load_decoder(tmp_path / "missing")


def test_training_learns_the_frames_and_never_changes_the_world_model(tmp_path):
    world_model = _world_model()
    before = {k: v.clone() for k, v in world_model.state_dict().items()}
    data = _square_episodes()
    config = DecoderTrainConfig(steps=300, batch_size=32, val_every=300, channels=64)
    decoder, log = train_decoder(world_model, data, config, progress=False)
    after = world_model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # The mean frame is the best image that ignores the tokens; the decoder must beat it by far.
    assert log[-1]["val_mse"] < 0.5 * log[-1]["val_mean_frame_mse"]
    assert not any(p.requires_grad for p in decoder.parameters())


def test_world_model_decoder_is_tied_to_its_encoder(tmp_path):
    world_model = _world_model()
    save_world_model(world_model, tmp_path)
    assert load_world_model_decoder(tmp_path) is None
    decoder = LatentDecoder(DecoderConfig(token_dim=16, grid=(4, 4), image_size=32))
    save_decoder(decoder, tmp_path / DECODER_DIR, {"encoder_sha256": encoder_digest(tmp_path)})
    assert isinstance(load_world_model_decoder(tmp_path), LatentDecoder)
    save_world_model(_world_model(seed=1), tmp_path)  # another encoder in the same place
    with pytest.raises(ValueError, match="trained on another encoder"):
        load_world_model_decoder(tmp_path)
    meta = json.loads((tmp_path / DECODER_DIR / "decoder.json").read_text())
    assert meta["format"] == "wmplan-decoder"


def test_imagined_frames_put_real_decoded_imagined_and_goal_side_by_side():
    world_model = _world_model()
    torch.manual_seed(0)
    decoder = LatentDecoder(DecoderConfig(token_dim=16, grid=(4, 4), image_size=32)).eval()
    rng = np.random.default_rng(0)
    observations = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    goal = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    actions = rng.normal(size=(4, 2)).astype(np.float32)
    frames = np.stack(imagined_frames(world_model, decoder, observations, actions, goal))
    assert frames.shape == (5, 32, 128, 3)
    real, decoded, imagined, goals = np.split(frames, 4, axis=2)
    assert np.array_equal(real, observations)
    assert np.array_equal(goals, np.broadcast_to(goal, goals.shape))
    assert np.array_equal(imagined[0], decoded[0])  # the start is its own imagination
    z = world_model.encode(torch.as_tensor(observations)[None])
    rollout = world_model.rollout(z[:, :1], torch.as_tensor(actions)[None, None])[0, 0]
    states = torch.cat([z[0, :1], rollout])  # decoded as one batch, as imagined_frames does
    expected = (decoder(states).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert np.array_equal(imagined, expected)
    with pytest.raises(ValueError, match="T\\+1 observations"):
        imagined_frames(world_model, decoder, observations[:3], actions, goal)


def test_a_killed_decoder_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    import worldmodels.train_decoder as train_module

    data = _square_episodes(n_episodes=4, length=10)
    config = DecoderTrainConfig(steps=6, batch_size=8, val_every=2, checkpoint_every=3, channels=32)
    reference, reference_log = train_decoder(_world_model(), data, config, progress=False)

    checkpoint = tmp_path / "decoder_state.safetensors"
    real_images, calls = train_module.frames_to_images, []

    def dying_images(*args):  # 2 calls before the loop (mean frame, validation), 1 a step
        calls.append(1)
        if len(calls) == 2 + 5:
            raise KeyboardInterrupt  # stands in for SIGKILL in step 5
        return real_images(*args)

    monkeypatch.setattr(train_module, "frames_to_images", dying_images)
    with pytest.raises(KeyboardInterrupt):
        train_decoder(_world_model(), data, config, progress=False, checkpoint=checkpoint)
    monkeypatch.setattr(train_module, "frames_to_images", real_images)
    decoder = LatentDecoder(DecoderConfig(token_dim=16, grid=(4, 4), image_size=32, channels=32))
    saved = load_training_state(checkpoint, decoder, torch.optim.AdamW(decoder.parameters()))
    assert saved.step == 3 and [row["step"] for row in saved.log] == [2]
    resumed, log = train_decoder(
        _world_model(), data, config, progress=False, checkpoint=checkpoint
    )
    assert log == reference_log and [row["step"] for row in log] == [2, 4, 6]
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
