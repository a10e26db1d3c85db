"""MPC controllers served over openpi's websocket protocol (DESIGN.md "policy server").

One `MPCController` per connection, all planning through one `PlanPool`, so replans that
arrive together from several connections are one batched planner call. The asyncio loop only
moves messages; each request is handled in a worker thread (at most one per connection).

The conversation, as openpi's ``WebsocketPolicyServer`` has it: on connect the server sends
the metadata (msgpack); each binary request gets a binary reply. A request the server refuses
(not msgpack, missing keys, wrong dtype or shape, no goal yet, a state the controller refuses
such as NaN) gets a text frame naming the problem, then a close with code 1008 (policy
violation) and the problem as reason; an internal error a text frame and code 1011. A message
over `max_message_bytes` is closed by the websocket layer with code 1009. Connections beyond
`max_connections` are closed with code 1013 (try again later). With an API key, the handshake
needs ``Authorization: Api-Key KEY`` (openpi's client sends it) and is otherwise answered 401.
``GET /healthz`` answers 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import logging
import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig
from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from benchmarks.planning_setup import PlanningSetup
from benchmarks.policy_protocol import (
    GOAL_IMAGE,
    GOAL_STATE,
    PolicyRequest,
    RequestError,
    pack,
    parse_request,
    reply,
    unpack,
)
from planner import MPCController, Planner, PlanPool
from planner.errors import ObservationError
from planner.world_model import PlanningWorldModel

logger = logging.getLogger(__name__)


def served_metadata(
    world_model: PlanningWorldModel,
    planner: Planner,
    *,
    env_id: str | None,
    image_shape: tuple[int, int, int] | None,
    replan_every: int,
    planner_name: str,
    max_message_bytes: int,
) -> dict[str, Any]:
    """What the server sends on connect: DESIGN.md's keys (`action_dim`, `horizon` in raw
    steps, `image_size` [H, W] or None, `proprio_dim`, `env_id`) and how to use them."""
    frameskip = world_model.frameskip
    return {
        "action_dim": planner.action_dim // frameskip,
        "horizon": planner.horizon * frameskip,
        "image_size": None if image_shape is None else list(image_shape[:2]),
        "proprio_dim": world_model.proprio_dim,
        "env_id": env_id,
        "frameskip": frameskip,
        "replan_every": replan_every,
        "planner": planner_name,
        "max_message_bytes": max_message_bytes,
        "episode_start": f"a request holding {GOAL_IMAGE} (and {GOAL_STATE}) starts an episode",
    }


def policy_server(setup: PlanningSetup, cfg: DictConfig, **overrides: Any) -> PolicyServer:
    """The server of ``wmplan-serve``'s config (conf/serve.yaml) for a loaded setup.

    Args:
        setup: the world model, planner and controller options (`planning_setup`).
        cfg: the effective config: ``env_id``, ``seed``, ``api_key``, ``max_message_bytes``,
            ``max_connections``, ``batch_window_s``, ``max_batch_size``, ``controller``,
            ``planner.name``, ``device``.
        overrides: `PolicyServer` keywords that replace the config's.
    """
    metadata = served_metadata(
        setup.world_model,
        setup.planner,
        env_id=cfg.env_id,
        image_shape=setup.image_shape,
        replan_every=cfg.controller.replan_every,
        planner_name=cfg.planner.name,
        max_message_bytes=cfg.max_message_bytes,
    )
    options = {
        "api_key": cfg.api_key,
        "max_message_bytes": cfg.max_message_bytes,
        "max_connections": cfg.max_connections,
        "window_s": cfg.batch_window_s,
        "max_batch_size": cfg.max_batch_size,
        "generator": torch.Generator(device=cfg.device).manual_seed(cfg.seed),
        **overrides,
    }
    return PolicyServer(
        world_model=setup.world_model,
        planner=setup.planner,
        metadata=metadata,
        controller_options=setup.controller_options,
        image_shape=setup.image_shape,
        **options,
    )


@dataclass
class _Connection:
    """A connection's controller, the image shape of its requests (None until its first goal
    when the server does not know it) and whether an episode was started."""

    controller: MPCController
    image_shape: tuple[int, int, int] | None
    in_episode: bool = False


class PolicyServer:
    """Serves MPC controllers of one world model to websocket clients.

    Attributes:
        metadata: sent on connect.
        pool: the plan pool every connection plans through.
        open_connections: connections being served now.
    """

    def __init__(
        self,
        *,
        world_model: PlanningWorldModel,
        planner: Planner,
        metadata: dict[str, Any],
        controller_options: dict[str, Any] | None = None,
        image_shape: tuple[int, int, int] | None = None,
        api_key: str | None = None,
        max_message_bytes: int = 1 << 21,
        max_connections: int = 16,
        window_s: float = 0.005,
        max_batch_size: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        """Stores the parts and starts the plan pool.

        Args:
            world_model: encodes and rolls out; shared by every connection.
            planner: the batched planner of the pool.
            metadata: sent on connect (`served_metadata`).
            controller_options: `MPCController` keywords (replan_every, history, cost,
                time_budget_s, compile, bf16); one cost object serves every connection.
            image_shape: (H, W, 3) every image must have; None: the episode's goal sets it.
            api_key: when set, the key clients must send.
            max_message_bytes: larger messages close the connection (code 1009).
            max_connections: connections served at once; more are closed (code 1013).
            window_s, max_batch_size, generator: the `PlanPool`'s.
        """
        self.world_model = world_model
        self.metadata = metadata
        self.controller_options = dict(controller_options or {})
        self.image_shape = image_shape
        self.api_key = api_key
        self.max_message_bytes = max_message_bytes
        self.max_connections = max_connections
        self.pool = PlanPool(
            planner, generator=generator, window_s=window_s, max_batch_size=max_batch_size
        )
        self.open_connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._executor = ThreadPoolExecutor(max_connections, thread_name_prefix="policy")

    def serve_forever(self, host: str, port: int) -> None:
        """Serves on host:port until interrupted."""
        asyncio.run(self._serve(host, port, None, None))

    @contextlib.contextmanager
    def running(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
        """Serves from a background thread; yields the port (port 0: a free one)."""
        ready = threading.Event()
        bound: list[int] = []
        thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(host, port, bound, ready)),
            name="policy-server",
            daemon=True,
        )
        thread.start()
        if not ready.wait(timeout=30) or not bound:
            raise RuntimeError(f"the policy server did not start on {host}:{port}")
        try:
            yield bound[0]
        finally:
            self._loop.call_soon_threadsafe(self._stop.set)
            thread.join(timeout=30)

    async def _serve(
        self, host: str, port: int, bound: list[int] | None, ready: threading.Event | None
    ) -> None:
        """Serves until `running` sets the stop event, appending the bound port to `bound`
        and setting `ready` once listening."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(
            self._handle,
            host,
            port,
            max_size=self.max_message_bytes,
            compression=None,
            process_request=self._check_request,
        ) as server:
            address = next(iter(server.sockets)).getsockname()
            logger.info("serving on ws://%s:%d", address[0], address[1])
            if bound is not None:
                bound.append(address[1])
                ready.set()
            await self._stop.wait()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """The handshake: health check, then the API key."""
        if request.path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        if self.api_key is None:
            return None
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Api-Key {self.api_key}".encode()):
            return None
        return connection.respond(
            http.HTTPStatus.UNAUTHORIZED, "missing or wrong API key (Authorization: Api-Key ...)\n"
        )

    async def _handle(self, websocket: ServerConnection) -> None:
        """One connection: metadata, then request -> reply until it closes."""
        if self.open_connections >= self.max_connections:
            await websocket.close(
                CloseCode.TRY_AGAIN_LATER, f"server full ({self.max_connections} connections)"
            )
            return
        self.open_connections += 1
        member = self.pool.member()
        controller = MPCController(self.world_model, member, **self.controller_options)
        connection = _Connection(controller, self.image_shape)
        loop = asyncio.get_running_loop()
        try:
            await websocket.send(pack(self.metadata))
            async for message in websocket:
                try:
                    if isinstance(message, str):
                        raise RequestError("requests must be binary msgpack frames, got text")
                    request = parse_request(
                        unpack(message),
                        image_shape=connection.image_shape,
                        proprio_dim=self.world_model.proprio_dim,
                        in_episode=connection.in_episode,
                    )
                    answer = await loop.run_in_executor(self._executor, _infer, connection, request)
                except (RequestError, ObservationError) as error:  # the controller's: NaN state
                    await _refuse(websocket, CloseCode.POLICY_VIOLATION, f"bad request: {error}")
                    return
                await websocket.send(pack(answer))
        except ConnectionClosed:
            logger.info("connection from %s closed", websocket.remote_address)
        except Exception as error:
            logger.exception("internal error serving %s", websocket.remote_address)
            with contextlib.suppress(ConnectionClosed):
                await _refuse(websocket, CloseCode.INTERNAL_ERROR, f"internal error: {error!r}")
        finally:
            member.leave()
            self.open_connections -= 1

    def close(self) -> None:
        """Stops the plan pool and the worker threads."""
        self.pool.close()
        self._executor.shutdown(wait=True)


async def _refuse(websocket: ServerConnection, code: CloseCode, text: str) -> None:
    """Sends the error as a text frame, then closes with it as reason (cut to the 123 bytes
    a close frame holds)."""
    await websocket.send(text)
    await websocket.close(code, text.encode()[:120].decode(errors="ignore"))


def _infer(connection: _Connection, request: PolicyRequest) -> dict[str, Any]:
    """Handles a request in a worker thread: a new episode on a goal, then one control step."""
    start = time.perf_counter()
    controller = connection.controller
    if request.goal is not None:
        controller.reset(request.goal)
        connection.image_shape = request.goal["pixels"].shape
        connection.in_episode = True
    controller.act(request.observation)
    plan_times = controller.plan_times_s
    plan_ms = 1000 * plan_times[-1] if plan_times else 0.0
    plan_times.clear()  # the server keeps no per-request history
    surprise = math.nan if controller.surprise is None else float(controller.surprise[0])
    return reply(
        controller.remaining_actions()[0],
        float(controller.last_result.cost[0]),
        surprise,
        {"infer_ms": 1000 * (time.perf_counter() - start), "plan_ms": plan_ms},
    )
