"""``wmplan-serve``: a world model's MPC controllers as an openpi policy server.

An unmodified ``openpi_client.websocket_client_policy.WebsocketClientPolicy(host, port)``
drives it: the first request of an episode holds ``goal/image`` (and ``goal/state``), every
request ``observation/image`` (and ``observation/state``); each reply holds ``actions`` (H, A),
the remaining plan (DESIGN.md "policy server"; benchmarks/policy_server.py).
"""

from __future__ import annotations

import logging

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from benchmarks.planning_defaults import user_override_keys
from benchmarks.planning_setup import planning_setup
from benchmarks.policy_server import policy_server

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="serve", version_base="1.3")
def main(cfg: DictConfig) -> None:
    setup = planning_setup(cfg, user_override_keys(HydraConfig.get().overrides.task))
    cfg = setup.cfg
    server = policy_server(setup, cfg)
    logger.info("world model %s, metadata %s", setup.world_model_path, server.metadata)
    try:
        server.serve_forever(cfg.host, cfg.port)
    finally:
        server.close()


if __name__ == "__main__":
    main()
