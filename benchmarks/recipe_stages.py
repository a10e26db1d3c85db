"""The stages of ``wmplan-recipe``: an environment's settings -> the commands a user would type.

From one environment's settings (a ``benchmarks/conf/recipe/env/*.yaml`` file, as a plain
dict) it builds the chain, everything under one output folder ``out``::

    collect    wmplan-collect, once per policy of each mix   -> out/data, out/encoder_data
    encoder    wmplan-train mode=encoder (mode=keypoints where the env's ``encoder.mode`` says
               so: a keypoint encoder)                       -> out/encoder
    predictor  wmplan-train mode=predictor                   -> out/world_model
    rounds     (where the env's settings have ``rounds``) per round, episodes planned by the
               model so far added to the data (wmplan-collect-planned) and the predictor
               fine-tuned on it (wmplan-train init_from=): the predictor's model is then
               out/rounds/model_0, round r's out/rounds/model_r, the last one's out/world_model
    high_level wmplan-train mode=high_level (where the env's settings have ``high_level``)
                                                             -> out/world_model/high_level
    temporal_distance  wmplan-train mode=temporal_distance (where the settings have it)
                                                             -> out/world_model/temporal_distance
    goal_policy  wmplan-train mode=goal_policy (where the settings have it)
                                                             -> out/world_model/goal_policy
    decoder    wmplan-train mode=decoder                     -> out/world_model/decoder
    planning   the env's planning settings                   -> out/world_model/planning.yaml
    bench      wmplan-bench                                  -> out/bench/results.json

A policy mix is one dataset filled by successive collections: the k-th policy collects the
episodes after those of the policies before it (``n_episodes`` grows), and episode ``i`` is
reset with ``seed + i`` whatever its policy, so the seeds never repeat; the policies after the
first are collected with ``extend=true``, so the dataset's ``meta.json`` lists every part.
The rounds add their episodes to the same dataset as further parts; the stages before them read
only the mix's episodes (``n_episodes=``), so a rerun of one reads what it read the first time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from benchmarks.planning_defaults import PLANNING_FILE
from benchmarks.stages import Command, Stage

STAGES = ("collect", "encoder", "predictor", "decoder", "planning", "bench")
STEPS_KEYS = {"encoder": ("pretrain", "steps"), "keypoints": ("keypoint_train", "steps"),
              "predictor": ("train", "steps"),
              "high_level": ("train", "steps"), "decoder": ("decoder", "steps"),
              "temporal_distance": ("temporal_distance", "steps"),
              "goal_policy": ("goal_policy", "steps")}  # fmt: skip
OPTIONAL = {
    "high_level": "high_level/world_model.json",  # optional stage -> its output
    "temporal_distance": "temporal_distance/head.json",
    "goal_policy": "goal_policy/policy.json",
}
_BARE = re.compile(r"[A-Za-z_/][\w/.:+-]*")  # strings hydra reads back unquoted, as strings
_KEYWORDS = {"true", "false", "null", "nan", "inf"}


@dataclass(frozen=True)
class Runtime:
    """How the commands run, apart from what they compute (not part of any fingerprint).

    Args:
        device: torch device of training and benchmark.
        threads: torch CPU threads (None: torch's default).
        workers: processes collecting episodes.
    """

    device: str = "cpu"
    threads: int | None = None
    workers: int = 2


def override_value(value: Any) -> str:
    """``value`` in hydra's override grammar: ``0.1``, ``null``, ``[a,b]``, ``{k:v}``, ``'a b'``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if _BARE.fullmatch(value) and value.lower() not in _KEYWORDS:
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{override_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a hydra override")


def flatten(settings: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Nested settings -> dotted overrides: ``{train: {steps: 3}}`` -> ``["train.steps=3"]``.

    Mappings are walked; anything else (numbers, strings, lists) is a value.
    """
    overrides = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            overrides += flatten(value, prefix=f"{name}.")
        else:
            overrides.append(f"{name}={override_value(value)}")
    return overrides


def scaled(count: int, scale: float) -> int:
    """``count * scale`` rounded, at least 1 (episodes, training steps)."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return max(1, round(count * scale))


def env_kwargs_overrides(env_kwargs: Mapping[str, Any] | None) -> list[str]:
    """``+env_kwargs.KEY=VALUE`` per kwarg (the apps' ``env_kwargs`` is an empty mapping)."""
    return [f"+{o}" for o in flatten(env_kwargs or {}, prefix="env_kwargs.")]


def trainer_overrides(
    mode: str, settings: Mapping[str, Any], scale: float, stage: str | None = None
) -> list[str]:
    """The ``wmplan-train`` overrides of a training mode, its step count (and ``n_episodes``,
    where set) times ``scale``; ``settings`` are those of the env file's ``stage`` (the mode's
    name by default).

    Raises:
        ValueError: when the settings do not give the stage's step count.
    """
    group, key = STEPS_KEYS[mode]
    if key not in settings.get(group, {}):
        raise ValueError(f"env.{stage or mode} must set {group}.{key}; got {dict(settings)}")
    steps = {key: scaled(settings[group][key], scale)}
    settings = {**settings, group: {**settings[group], **steps}}
    if "n_episodes" in settings:  # the dataset's first episodes, scaled as the collection is
        settings["n_episodes"] = scaled(settings["n_episodes"], scale)
    return flatten(settings)


def collect_commands(
    name: str, env_id: str, data: Mapping[str, Any], root: Path, scale: float, run: Runtime
) -> list[Command]:
    """One ``wmplan-collect`` per policy of the mix ``data``, all into dataset ``root``.

    Args:
        name: the dataset's name (its commands' hydra run dirs are
            ``logs/<name>_<position>_<policy>``: one per part, also where parts share a policy).
        env_id: registered environment id.
        data: ``env_kwargs``, ``episode_length``, ``seed`` and ``policies``: a list of
            ``{policy, n_episodes, ...}`` (other keys are ``wmplan-collect`` overrides such
            as ``hold_prob`` or ``noise``).
        root: the dataset folder.
        scale: factor on every policy's episode count.
        run: runtime settings.
    """
    commands, total = [], 0
    for position, part in enumerate(data["policies"]):
        total += scaled(part["n_episodes"], scale)
        extra = {k: v for k, v in part.items() if k not in ("n_episodes", "expert")}
        expert = flatten(part.get("expert") or {}, prefix="expert.")  # an empty mapping in the app
        args = [
            f"out={root}",
            f"env_id={override_value(env_id)}",
            *env_kwargs_overrides(data.get("env_kwargs")),
            f"episode_length={data['episode_length']}",
            f"seed={data['seed']}",
            f"n_episodes={total}",
            *flatten(extra),
            *(f"+{o}" for o in expert),
            *(["extend=true"] if position else []),
        ]
        log_dir = root.parent / "logs" / f"{name}_{position}_{part['policy']}"
        runtime = (f"workers={run.workers}", f"hydra.run.dir={log_dir}")
        commands.append(Command("wmplan-collect", tuple(args), runtime))
    return commands


def _runtime(run: Runtime, log_dir: Path) -> tuple[str, ...]:
    """The runtime overrides of a command that computes with torch, logging to ``log_dir``."""
    return (f"device={run.device}", f"threads={override_value(run.threads)}",
            f"hydra.run.dir={log_dir}")  # fmt: skip


def _train(
    out: Path, mode: str, args: list[str], run: Runtime, stage: str | None = None
) -> Command:
    """``wmplan-train mode=<mode>``, logging to ``out/logs/<stage>`` (default: the mode)."""
    runtime = _runtime(run, out / "logs" / (stage or mode))
    return Command("wmplan-train", (f"mode={mode}", *args), runtime)


def round_commands(
    env: Mapping[str, Any], out: Path, mix_episodes: int, scale: float, run: Runtime
) -> list[Command]:
    """The commands of the rounds of planner data (DAgger for models: Ross and Bagnell 2012);
    each round's planner reads its model's ``planning.yaml`` (``rounds.planning`` where the
    env's settings have it, else the env's ``planning``).

    Round ``r`` (1..n) plans ``collect.n_episodes`` episodes with model ``r - 1`` (reset seeds
    from ``collect.seed + (r - 1) * n_episodes``), adds them to ``out/data``, and fine-tunes
    model ``r - 1`` on the data so far with the predictor's ``train`` settings and
    ``rounds.train`` on top.

    Args:
        env: the env's settings; ``rounds``: ``{n, collect: {n_episodes, episode_length,
            seed}, train: {steps, ...}}``.
        out: the recipe's output folder.
        mix_episodes: the episodes of the data's policy mix (scaled).
        scale: factor on episode counts and training steps.
        run: runtime settings.

    Raises:
        ValueError: when a setting is missing or ``n`` is below 1.
    """
    rounds = env["rounds"]
    n, collect = rounds.get("n", 0), rounds.get("collect") or {}
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"env.rounds.n must be an integer >= 1, got {n!r}")
    missing = [k for k in ("n_episodes", "episode_length", "seed") if k not in collect]
    if missing:
        raise ValueError(f"env.rounds.collect must set {missing}; got {dict(collect)}")
    train = {**env["predictor"]["train"], **(rounds.get("train") or {})}
    train_args = trainer_overrides("predictor", {"train": train}, scale, "rounds")
    on = [f"env_id={override_value(env['env_id'])}"]
    on += env_kwargs_overrides(env["data"].get("env_kwargs"))
    per_round = scaled(collect["n_episodes"], scale)
    data, models = out / "data", round_models(out, n)
    commands = []
    for r in range(1, n + 1):
        seed = collect["seed"] + (r - 1) * per_round
        planned = [*on, f"world_model={models[r - 1]}", f"out={data}", "extend=true",
                   f"seed={seed}", f"n_episodes={per_round}",
                   f"episode_length={collect['episode_length']}", "video_episodes=0"]  # fmt: skip
        runtime = _runtime(run, out / "logs" / f"round{r}_collect")
        commands.append(Command("wmplan-collect-planned", tuple(planned), runtime))
        fine_tune = [f"dataset={data}", on[0], f"n_episodes={mix_episodes + r * per_round}",
                     f"init_from={models[r - 1]}", f"out={models[r]}", *train_args]  # fmt: skip
        commands.append(_train(out, "predictor", fine_tune, run, f"round{r}_train"))
    return commands


def round_models(out: Path, n: int) -> list[Path]:
    """The world models of ``n`` rounds: the predictor's, then each round's (the last is
    ``out/world_model``)."""
    return [out / "rounds" / f"model_{r}" for r in range(n)] + [out / "world_model"]


def recipe_stages(env: Mapping[str, Any], out: Path, scale: float, run: Runtime) -> list[Stage]:
    """The recipe's chain for one environment's settings.

    Args:
        env: the settings of one ``conf/recipe/env`` file, as plain containers.
        out: the output folder (absolute, so the commands do not depend on the cwd).
        scale: factor on episode counts and training steps (1.0: the recipe as written).
        run: runtime settings.
    """
    env_id = env["env_id"]
    data, encoder_data = out / "data", out / "encoder_data"
    world_model, encoder = out / "world_model", out / "encoder"
    collect = collect_commands("data", env_id, env["data"], data, scale, run)
    if env.get("encoder_data"):
        collect += collect_commands(
            "encoder_data", env_id, env["encoder_data"], encoder_data, scale, run
        )
    else:
        encoder_data = data
    on = [f"env_id={override_value(env_id)}"]
    encoder_args = [f"dataset={encoder_data}", *on, f"out={encoder}"]
    predictor_out, final = world_model, "predictor"  # final: the stage writing world_model
    predictor_args = [f"dataset={data}", *on, f"encoder={encoder}"]
    encoder_settings = dict(env.get("encoder") or {})
    planning_text = planning_yaml(env.get("planning") or {})
    rounds: list[Stage] = []
    if env.get("rounds"):  # the mix's episodes only, before the rounds add theirs
        mix = sum(scaled(part["n_episodes"], scale) for part in env["data"]["policies"])
        commands = round_commands(env, out, mix, scale, run)
        models = round_models(out, env["rounds"]["n"])[:-1]  # the models the rounds plan with
        # the rounds plan with their own settings where they have them (no parts trained later)
        round_planning = planning_yaml(env["rounds"].get("planning") or env.get("planning") or {})
        files = {str(model / PLANNING_FILE): round_planning for model in models}
        predictor_out, final = models[0], "rounds"
        predictor_args.append(f"n_episodes={mix}")
        if encoder_data == data and "n_episodes" not in encoder_settings:
            encoder_args.append(f"n_episodes={mix}")
        rounds.append(Stage("rounds", tuple(commands), files,
                            outputs=(str(world_model / "world_model.json"),),
                            needs=("collect", "predictor")))  # fmt: skip
    predictor_args.append(f"out={predictor_out}")
    on_model = [f"dataset={data}", *on, f"out={world_model}"]  # trainers of the world model's parts
    planning = world_model / PLANNING_FILE
    bench_args = [*on, f"world_model={world_model}", *flatten(env.get("bench") or {})]
    bench_args += env_kwargs_overrides(env["data"].get("env_kwargs"))
    bench_runtime = _runtime(run, out / "bench")
    encoder_mode = encoder_settings.pop("mode", "encoder")  # "keypoints": a keypoint encoder
    if encoder_mode not in ("encoder", "keypoints"):
        raise ValueError(f"env.encoder.mode must be 'encoder' or 'keypoints', got {encoder_mode!r}")
    trained = [s for s in STEPS_KEYS if s not in ("encoder", "keypoints")]
    trained = [s for s in trained if s not in OPTIONAL or env.get(s)]
    settings = {s: trainer_overrides(s, env.get(s) or {}, scale) for s in trained}
    settings["encoder"] = trainer_overrides(encoder_mode, encoder_settings, scale, "encoder")
    optional = [  # the coarse model, the temporal-distance head (docs/hierarchical.md), the policy
        Stage(
            stage,
            (_train(out, stage, on_model + settings[stage], run),),
            outputs=(str(world_model / output),),
            needs=("collect", final),
        )
        for stage, output in OPTIONAL.items()
        if stage in settings
    ]
    return [
        Stage(
            "collect",
            tuple(collect),
            outputs=(str(data / "meta.json"), str(encoder_data / "meta.json")),
        ),
        Stage(
            "encoder",
            (_train(out, encoder_mode, encoder_args + settings["encoder"], run, "encoder"),),
            outputs=(str(encoder / "encoder.json"),),
            needs=("collect",),
        ),
        Stage(
            "predictor",
            (_train(out, "predictor", predictor_args + settings["predictor"], run),),
            outputs=(str(predictor_out / "world_model.json"),),
            needs=("collect", "encoder"),
        ),
        *rounds,
        *optional,
        Stage(
            "decoder",
            (_train(out, "decoder", on_model + settings["decoder"], run),),
            outputs=(str(world_model / "decoder" / "decoder.json"),),
            needs=(final,),
        ),
        Stage(
            "planning",
            files={str(planning): planning_text},
            outputs=(str(planning),),
            needs=(final,),
        ),
        Stage(
            "bench",
            (Command("wmplan-bench", tuple(bench_args), bench_runtime),),
            outputs=(str(out / "bench" / "results.json"),),
            needs=(final, "planning"),
        ),
    ]


def planning_yaml(planning: Mapping[str, Any]) -> str:
    """The world model's planning defaults (``planning.yaml``) that ``wmplan-bench`` reads."""
    header = "# planning defaults of this world model, written by wmplan-recipe\n"
    return header + OmegaConf.to_yaml(OmegaConf.create(dict(planning)))
