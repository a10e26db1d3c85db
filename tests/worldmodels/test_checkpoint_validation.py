"""World-model checkpoints under corruption: every damaged file and every bad field of
``world_model.json`` is either refused with a ``CheckpointError`` naming the file and the
field, or loads into a model whose rollouts are finite. Never a model that plans on NaN.

``test_regression_*`` are the inputs the code before issue 16 loaded silently or refused with
an error naming nothing (``KeyError: 'predictor'``, ``TypeError``, ``ZeroDivisionError``)."""

import json
import math
import shutil

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worldmodels.checkpoint import load_world_model, save_world_model
from worldmodels.checkpoint_config import check_trained_env
from worldmodels.errors import CheckpointError
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
WEIGHTS = ("predictor.safetensors", "encoder/encoder.safetensors")


def tiny_world_model() -> WorldModel:
    torch.manual_seed(0)
    encoder = DinoVisionTransformer(img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    config = PredictorConfig(token_dim=8, n_tokens=4, action_dim=2, dim=8, depth=1, num_heads=2,
                             proprio_dim=3)  # fmt: skip
    return WorldModel(
        encoder=encoder,
        predictor=LatentPredictor(config),
        image_size=16,
        pool=1,
        num_hist=2,
        action_mean=torch.tensor([0.1, -0.2]),
        action_std=torch.tensor([0.5, 2.0]),
        proprio_mean=torch.zeros(3),
        proprio_std=torch.ones(3),
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return save_world_model(tiny_world_model(), tmp_path_factory.mktemp("wm") / "model")


@pytest.fixture
def copy(saved, tmp_path):
    """A fresh copy of the saved checkpoint (each call of the test, hypothesis examples
    included), and a way to edit its ``world_model.json``."""
    directory = tmp_path / "model"
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(saved, directory)

    def edit(change, digests=True):
        meta = json.loads((directory / "world_model.json").read_text())
        change(meta)
        if not digests:
            meta.pop("sha256")
        (directory / "world_model.json").write_text(json.dumps(meta))

    return directory, edit


def plans_finitely(world_model: WorldModel) -> bool:
    """Whether an encoding and a rollout of random inputs are finite."""
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (1, 1, 16, 16, 3), dtype=torch.uint8, generator=generator)
    z = world_model.encode(pixels, torch.randn(1, 1, 3, generator=generator))
    actions = torch.rand(1, 4, 3, 2, generator=generator) * 2 - 1
    return bool(world_model.rollout(z, actions).isfinite().all())


def test_a_saved_checkpoint_loads_and_plans(saved):
    assert plans_finitely(load_world_model(saved))


@pytest.mark.parametrize("name", WEIGHTS)
@pytest.mark.parametrize("digests", [True, False])
def test_regression_overwritten_tensor_bytes_are_refused(copy, name, digests):
    directory, edit = copy
    edit(lambda meta: None, digests)
    path = directory / name
    data = bytearray(path.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")
    data[header:] = b"\xff" * (len(data) - header)  # every float becomes NaN
    path.write_bytes(bytes(data))
    message = "SHA-256 differs" if digests else "tensors hold NaN, inf or values beyond 1e"
    with pytest.raises(CheckpointError, match=message) as error:
        load_world_model(directory)
    assert error.value.path == path


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("action_std", [0.0, 2.0], r"action_std\[0\]: 0.0, expected a finite number > 0"),
        ("action_std", [math.nan, 2.0], r"action_std\[0\]: nan, expected a finite number > 0"),
        ("action_mean", [math.nan, 0.0], r"action_mean\[0\]: nan, expected a finite number"),
        ("action_mean", [0.0], r"action_mean: \[0.0\], expected a list of 2 numbers"),
        ("proprio_std", [1.0, -1.0, 1.0], r"proprio_std\[1\]: -1.0, expected a finite number > 0"),
        ("proprio_scale", math.inf, r"proprio_scale: inf, expected a number in \(0, 1e\+06\]"),
        ("pool", 0, "pool: 0, expected an integer >= 1"),
        ("pool", "2", "pool: '2', expected an integer >= 1"),
        ("image_size", 64.5, "image_size: 64.5, expected an integer >= 1"),
        ("num_hist", True, "num_hist: True, expected an integer >= 1"),
        ("frameskip", 0, "frameskip: 0, expected an integer >= 1"),
        ("predictor", None, "predictor: None, expected a mapping"),
        ("pool", 3, r"configuration: pool=3 does not divide the \(2, 2\) patch grid"),
    ],
)
def test_regression_bad_config_fields_are_named(copy, field, value, message):
    directory, edit = copy
    edit(lambda meta: meta.__setitem__(field, value))
    with pytest.raises(CheckpointError, match=message) as error:
        load_world_model(directory)
    assert error.value.path == directory / "world_model.json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda meta: meta.pop("predictor"), "predictor: None, expected a mapping"),
        (lambda meta: meta.pop("action_std"), "action_std: missing, expected a list of 2"),
        (lambda meta: meta.pop("pool"), "pool: missing, expected an integer >= 1"),
        (lambda meta: meta["predictor"].pop("token_dim"), "predictor.token_dim: missing"),
        (lambda meta: meta["predictor"].update(token_dim=8.5), "predictor.token_dim: 8.5"),
        (lambda meta: meta["predictor"].update(heads=2), r"predictor: unknown keys \['heads'\]"),
        (lambda meta: meta["predictor"].update(depth=0), "PredictorConfig.depth must be >= 1"),
    ],
)
def test_regression_missing_and_mistyped_keys_are_named(copy, change, message):
    directory, edit = copy
    edit(change)
    with pytest.raises(CheckpointError, match=message):
        load_world_model(directory)


json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.floats(-3, 3), max_size=4),
)
FIELDS = ["image_size", "pool", "num_hist", "frameskip", "action_mean", "action_std",
          "proprio_mean", "proprio_std", "proprio_scale", "predictor.dim", "predictor.depth",
          "predictor.max_frames", "predictor.mlp_ratio", "predictor.n_tokens"]  # fmt: skip


def _set(meta, field, value):
    *parents, key = field.split(".")
    for parent in parents:
        meta = meta[parent]
    meta[key] = value


@FUZZ
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_any_field_value_is_refused_by_name_or_loads_a_model_that_plans(
    saved, tmp_path, field, value
):
    directory, edit = copy.__wrapped__(saved, tmp_path)
    edit(lambda meta: _set(meta, field, value))
    try:
        world_model = load_world_model(directory)
    except CheckpointError as err:
        assert err.path == directory / "world_model.json"
        assert field.split(".")[-1] in str(err) or err.field == "configuration", str(err)
        return
    assert plans_finitely(world_model)


@FUZZ
@given(
    name=st.sampled_from(WEIGHTS),
    digests=st.booleans(),
    flips=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), min_size=1, max_size=8
    ),  # fmt: skip
)
def test_bit_flips_are_refused_or_load_a_model_that_plans(saved, tmp_path, name, digests, flips):
    directory, edit = copy.__wrapped__(saved, tmp_path)
    edit(lambda meta: None, digests)
    path = directory / name
    original = path.read_bytes()
    data = bytearray(original)
    for where, bit in flips:
        data[int(where * len(data))] ^= 1 << bit
    path.write_bytes(bytes(data))
    changed = bytes(data) != original  # two flips of one bit cancel
    try:
        world_model = load_world_model(directory)
    except CheckpointError as err:
        assert changed
        assert err.path == path or err.path == directory / "world_model.json", str(err)
        assert not digests or "SHA-256 differs" in str(err)
        return
    assert not (digests and changed)
    assert plans_finitely(world_model)


@FUZZ
@given(name=st.sampled_from((*WEIGHTS, "world_model.json")), fraction=st.floats(0, 0.999))
def test_truncated_files_are_refused_by_name(saved, tmp_path, name, fraction):
    directory, _ = copy.__wrapped__(saved, tmp_path)
    path = directory / name
    data = path.read_bytes()
    path.write_bytes(data[: int(fraction * len(data))])
    with pytest.raises(CheckpointError) as error:
        load_world_model(directory)
    assert error.value.path in (path, directory / "world_model.json")


def test_a_model_trained_on_another_environment_is_refused_by_name(copy):
    directory, edit = copy
    check_trained_env(directory, "wmplan/Wall-v0", "model")  # records no env_id: passes
    edit(lambda meta: meta["extra"].update(env_id="wmplan/PointMaze-v0"))
    check_trained_env(directory, "wmplan/PointMaze-v0", "model")
    message = "^model was trained on wmplan/PointMaze-v0, not wmplan/Wall-v0$"
    with pytest.raises(ValueError, match=message):
        check_trained_env(directory, "wmplan/Wall-v0", "model")
