"""wmplan-serve's policy server on loopback, driven by the unmodified openpi client.

The client (``openpi-client==0.1.2``, which pins numpy < 2) runs in its own virtual
environment, as a robot process would: ``python3 -m venv .venv-openpi &&
.venv-openpi/bin/pip install openpi-client==0.1.2 typing_extensions`` (0.1.2 imports
typing_extensions without declaring it); ``WMPLAN_OPENPI_PYTHON`` names another interpreter.
Without it these tests skip, except in CI, where they fail.

The fast tests serve a point world model (the position is pixel (0, 0), the rollout adds the
actions up), so the known answers are cheap: two clients planned in one batched call get
exactly the actions of one in-process controller given both observations as a batch.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from benchmarks.policy_faults import malformed_requests, refusal
from benchmarks.policy_protocol import pack, unpack
from benchmarks.policy_server import PolicyServer, served_metadata
from planner import GoalDistance, MPCController, make_planner
from tests.point_world_model import SIZE, PointWorldModel, render

ROOT = Path(__file__).resolve().parents[2]
RELAY = Path(__file__).with_name("openpi_relay.py")
HORIZON = 5


def openpi_python() -> str:
    """The interpreter of the openpi-client environment (see the module docstring)."""
    python = os.environ.get("WMPLAN_OPENPI_PYTHON", str(ROOT / ".venv-openpi" / "bin" / "python"))
    if not Path(python).exists():
        message = f"no openpi-client environment at {python} (see {__file__})"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return python


class SlowCost(GoalDistance):
    """The goal distance, after a pause: a plan that takes a while."""

    def forward(self, z_pred, z_goal, actions):
        time.sleep(0.05)
        return super().forward(z_pred, z_goal, actions)


def cem():
    return make_planner(
        "cem", horizon=HORIZON, action_dim=2, low=-0.5, high=0.5, n_samples=64, n_elites=8
    )


def point_server(cost=None, **options) -> PolicyServer:
    world_model, planner = PointWorldModel(), cem()
    metadata = served_metadata(
        world_model,
        planner,
        env_id=None,
        image_shape=(SIZE, SIZE, 3),
        replan_every=1,
        planner_name="cem",
        max_message_bytes=options.get("max_message_bytes", 1 << 21),
    )
    return PolicyServer(
        world_model=world_model,
        planner=planner,
        metadata=metadata,
        controller_options={"cost": cost or GoalDistance("all")},
        image_shape=(SIZE, SIZE, 3),
        generator=torch.Generator().manual_seed(5),
        **options,
    )


class Relay:
    """The unmodified openpi client in its own process (openpi_relay.py)."""

    def __init__(self, port: int, api_key: str | None = None) -> None:
        args = [
            openpi_python(),
            str(RELAY),
            "127.0.0.1",
            str(port),
            *([api_key] if api_key else []),
        ]
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.metadata = self._read()

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        assert line, self.process.stderr.read()[-2000:]
        return json.loads(line)

    def send(self, request: dict) -> None:
        encoded = {
            key: {"b64": _b64(value), "dtype": value.dtype.str, "shape": list(value.shape)}
            for key, value in request.items()
        }
        self.process.stdin.write(json.dumps(encoded) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict:
        answer = self._read()
        if "actions" in answer:
            actions = answer["actions"]
            answer["actions"] = np.frombuffer(
                __import__("base64").b64decode(actions["b64"]), dtype=actions["dtype"]
            ).reshape(actions["shape"])
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _b64(value: np.ndarray) -> str:
    return __import__("base64").b64encode(np.ascontiguousarray(value).tobytes()).decode()


STARTS = np.array([[0.0, 0.0], [1.0, -1.0]])
GOALS = np.array([[2.0, -1.5], [-1.0, 0.5]])
STEPS = 5


def test_two_openpi_clients_are_planned_in_one_call_as_one_batched_controller():
    reference = MPCController(
        PointWorldModel(),
        cem(),
        cost=GoalDistance("all"),
        generator=torch.Generator().manual_seed(5),
    )
    reference.reset({"pixels": render(GOALS)})
    position, expected, expected_plans = STARTS.copy(), [], []
    for _ in range(STEPS):
        action = reference.act({"pixels": render(position)})
        expected.append(action)
        expected_plans.append(reference.remaining_actions())
        position = position + action

    server = point_server(api_key="secret", window_s=30.0)  # a batch waits for both clients
    with server.running() as port:
        relays = [Relay(port, api_key="secret") for _ in GOALS]
        position, replies = STARTS.copy(), []
        for step in range(STEPS):
            for i, relay in enumerate(relays):
                request = {"observation/image": render(position[i])}
                if step == 0:
                    request["goal/image"] = render(GOALS[i])
                relay.send(request)
            answers = [relay.receive() for relay in relays]
            replies.append(answers)
            position = position + np.stack([a["actions"][0] for a in answers])
        for relay in relays:
            relay.close()
    calls, problems = server.pool.n_calls, server.pool.n_problems
    server.close()
    assert relays[0].metadata == {
        "action_dim": 2,
        "horizon": HORIZON,
        "image_size": [SIZE, SIZE],
        "proprio_dim": 0,
        "env_id": None,
        "frameskip": 1,
        "replan_every": 1,
        "planner": "cem",
        "max_message_bytes": 1 << 21,
        "episode_start": "a request holding goal/image (and goal/state) starts an episode",
    }
    for step, answers in enumerate(replies):
        for i, answer in enumerate(answers):
            assert answer["actions"].dtype == np.float32
            np.testing.assert_array_equal(answer["actions"], expected_plans[step][i])
            np.testing.assert_array_equal(answer["actions"][0], expected[step][i])
            assert set(answer["server_timing"]) == {"infer_ms", "plan_ms"}
            assert isinstance(answer["plan_cost"], float)
            assert (answer["surprise"] is None or np.isnan(answer["surprise"])) == (step == 0)
    assert calls == STEPS and problems == 2 * STEPS  # one planner call per step for both


IMAGE = render(np.zeros(2))


def wait_until(condition, timeout_s: float = 30.0) -> bool:
    """Polls `condition` until it holds or `timeout_s` passed; returns whether it held."""
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)
    return condition()


def serves(port: int) -> bool:
    """Whether a new client gets a plan for its first request."""
    with connect(f"ws://127.0.0.1:{port}") as websocket:
        websocket.recv()
        websocket.send(pack({"goal/image": IMAGE, "observation/image": IMAGE}))
        return unpack(websocket.recv(timeout=60))["actions"].shape == (HORIZON, 2)


def test_malformed_requests_get_an_error_and_a_close_and_the_server_keeps_serving():
    server = point_server()
    with server.running() as port:
        for name, (message, expected) in malformed_requests((SIZE, SIZE, 3), 0).items():
            frames, code, reason = refusal(f"ws://127.0.0.1:{port}", message)
            assert len(frames) == 1 and expected in frames[0], (name, frames)
            assert code == 1008 and reason.startswith("bad request: "), (name, code, reason)
        assert serves(port)
        assert wait_until(lambda: server.open_connections == 0) and not server.pool._members
    server.close()


class ProprioPointWorldModel(PointWorldModel):
    """The point's position is its proprioception (2 values)."""

    proprio_dim = 2

    def encode(self, pixels, proprio):
        """(B, T, H, W, 3), (B, T, 2) -> (B, T, 1, 2)."""
        return proprio[:, :, None]


def test_with_proprioception_states_are_checked_and_a_nan_state_refused():
    world_model, planner = ProprioPointWorldModel(), cem()
    server = PolicyServer(
        world_model=world_model,
        planner=planner,
        metadata={},
        controller_options={"cost": GoalDistance("all")},
        image_shape=(SIZE, SIZE, 3),
    )
    url = None
    with server.running() as port:
        url = f"ws://127.0.0.1:{port}"
        for name, (message, expected) in malformed_requests((SIZE, SIZE, 3), 2).items():
            frames, code, _ = refusal(url, message)
            assert len(frames) == 1 and expected in frames[0] and code == 1008, (name, frames)
        state = np.zeros(2, dtype=np.float32)
        missing = pack({"goal/image": IMAGE, "observation/image": IMAGE, "goal/state": state})
        frames, code, _ = refusal(url, missing)
        assert "missing keys ['observation/state']" in frames[0] and code == 1008
        with connect(url) as websocket:
            websocket.recv()
            request = {"goal/image": IMAGE, "observation/image": IMAGE}
            websocket.send(pack({**request, "goal/state": state + 1, "observation/state": state}))
            actions = unpack(websocket.recv(timeout=60))["actions"]
        assert actions.shape == (HORIZON, 2) and (actions[0] > 0.3).all()  # towards (1, 1)
    server.close()


def test_oversized_messages_close_with_1009():
    server = point_server(max_message_bytes=4096)
    with server.running() as port:
        big = pack({"goal/image": np.zeros((64, 64, 3), np.uint8), "observation/image": IMAGE})
        frames, code, _ = refusal(f"ws://127.0.0.1:{port}", big)
        assert frames == [] and code == 1009
        assert serves(port)
    server.close()


def test_the_api_key_is_required():
    server = point_server(api_key="secret")
    with server.running() as port:
        for headers in (None, {"Authorization": "Api-Key wrong"}, {"Authorization": "secret"}):
            with pytest.raises(InvalidStatus) as refused:
                connect(f"ws://127.0.0.1:{port}", additional_headers=headers)
            assert refused.value.response.status_code == 401
            assert b"API key" in refused.value.response.body
        with connect(
            f"ws://127.0.0.1:{port}", additional_headers={"Authorization": "Api-Key secret"}
        ) as websocket:
            assert unpack(websocket.recv())["action_dim"] == 2
    server.close()


def test_a_client_leaving_mid_plan_and_one_too_many_do_not_stop_the_others():
    server = point_server(cost=SlowCost("all"), max_connections=2, window_s=0.0)
    with server.running() as port:
        with connect(f"ws://127.0.0.1:{port}") as leaving:
            leaving.recv()
            leaving.send(pack({"goal/image": IMAGE, "observation/image": IMAGE}))
        # closed while its plan (CEM's iterations x 0.05 s) runs; its slot frees when it ends
        assert wait_until(lambda: server.open_connections == 0)
        with (
            connect(f"ws://127.0.0.1:{port}") as first,
            connect(f"ws://127.0.0.1:{port}") as second,
        ):
            first.recv()
            second.recv()
            frames, code, reason = refusal(
                f"ws://127.0.0.1:{port}", pack({})
            )  # a third: over the limit
            assert frames == [] and code == 1013 and "server full" in reason
            first.send(pack({"goal/image": IMAGE, "observation/image": IMAGE}))
            assert unpack(first.recv(timeout=60))["actions"].shape == (HORIZON, 2)
        assert serves(port)
        assert wait_until(lambda: server.open_connections == 0) and not server.pool._members
    server.close()


@pytest.mark.slow
def test_an_openpi_client_drives_wmplan_serve_through_a_maze_episode(tmp_path):
    """The README's example: wmplan-serve with the bundled PointMaze model, the unmodified
    client in its own environment, the test's environment stepped with the first action of
    each reply, wmplan-bench's first pair and step budget."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers the environments)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.serve",
            f"port={port}",
            "api_key=k3y",
            f"hydra.run.dir={tmp_path}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        healthy = f"http://127.0.0.1:{port}/healthz"
        assert wait_until(lambda: _answers(healthy), timeout_s=120), server.stderr.read()[-3000:]
        relay = Relay(port, api_key="k3y")
        assert {k: relay.metadata[k] for k in ("action_dim", "horizon", "image_size")} == {
            "action_dim": 2,
            "horizon": 5,
            "image_size": [64, 64],
        }
        assert relay.metadata["proprio_dim"] == 0
        assert relay.metadata["env_id"] == "wmplan/PointMaze-v0"
        env = gym.make("wmplan/PointMaze-v0")
        obs, info = env.reset(seed=100000)
        request = {"observation/image": obs["pixels"], "goal/image": info["goal_obs"]["pixels"]}
        for _ in range(20):
            relay.send(request)
            answer = relay.receive()
            assert "actions" in answer, answer
            obs, _, _, _, info = env.step(answer["actions"][0])
            request = {"observation/image": obs["pixels"]}
        relay.close()
        assert info["success"], info["distance"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    """Whether an HTTP GET of `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
