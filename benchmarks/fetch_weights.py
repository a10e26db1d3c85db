"""``wmplan-fetch-weights``: download official DINOv2 checkpoints into the local cache.

Needs internet; nothing else in wmplan downloads. Run, e.g.,
``wmplan-fetch-weights 'names=[dinov2_vits14,dinov2_vits14_reg]'``, then
``load_encoder("dinov2_vits14", weights=<printed path>)``.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from worldmodels.official_weights import fetch_official_weights


@hydra.main(config_path="conf", config_name="fetch_weights", version_base="1.3")
def main(cfg: DictConfig) -> None:
    for name in cfg.names:
        print(fetch_official_weights(name, cfg.cache_dir, cfg.base_url))


if __name__ == "__main__":
    main()
