"""Shaping for manipulation: how far the agent is from the objects, in the keypoint token.

A goal distance on object keypoints is flat while the agent is away from the object: no plan
that stops short of a contact moves the object, so none scores better than doing nothing, and
a planner drifts until a sample happens to touch it (Push-T's pusher starts up to a table
away from the block). Reaching rewards of manipulation benchmarks add the gripper-to-object
distance for this reason (Meta-World, Yu et al. 2019; robosuite, Zhu et al. 2020). Here it is
read from the world model's own spaces, without labels: the agent's image points come from
its predicted proprio token through the keypoint encoder's agent map
(`worldmodels.keypoint_encoder.KeypointEncoder.place_agent`, learned with the keypoints), the
objects' from the predicted keypoint token, and the cost is the smallest squared image
distance between an agent point and a kept keypoint. `keypoints` limits the reach to the
object's keypoints (those `benchmarks.object_keypoints` finds): where the token also keeps
keypoints of the static scene, the agent would otherwise "reach" a table corner at home.

The proprio token holds z-scored proprioception, so the cost is configured without the world
model and bound to one by `LatentEnergy` (`for_world_model`), as `JointAngleDistance` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor

from planner.energy import step_slice
from planner.errors import EnergyError, check_indices
from planner.proprio_token import ProprioReader


class AgentReach:
    """min over agent points a and keypoints k of |a - k|^2 (image coordinates in [-1, 1]),
    per predicted step, of a world model with a keypoint encoder (token 0) and a proprio token
    (the last).

    Args:
        reduction: "all" averages over the plan's steps (reach early), "last" scores its end.
        keypoints: indices of the token's keypoints to reach (all by default).
    """

    def __init__(
        self, reduction: Literal["last", "all"] = "all", keypoints: Sequence[int] | None = None
    ) -> None:
        self._steps = step_slice(reduction)
        self.reduction = reduction
        self.keypoints = check_indices("keypoints", keypoints, "keypoint indices", nonnegative=True)
        self._encoder = None  # the world model's KeypointEncoder, once bound
        self._proprio: ProprioReader | None = None  # the raw proprio, once bound

    def for_world_model(self, world_model: object) -> AgentReach:
        """This cost reading ``world_model``'s keypoint and proprio tokens: a new, bound instance.

        Raises:
            EnergyError: the model takes no proprioception, or its encoder has no agent map.
        """
        encoder = getattr(world_model, "encoder", None)
        if getattr(encoder, "agent", None) is None:
            raise EnergyError(
                "AgentReach needs a world model whose encoder is a keypoint encoder with an agent "
                f"map (worldmodels.keypoint_encoder); got encoder {type(encoder).__name__}"
            )
        p = getattr(world_model, "proprio_dim", 0)
        if p != encoder.proprio_dim:
            raise EnergyError(
                f"AgentReach: the agent map reads {encoder.proprio_dim} proprio values, the world "
                f"model takes {p}"
            )
        n_kept = encoder.embed_dim // 2
        if self.keypoints is not None and max(self.keypoints) >= n_kept:
            raise EnergyError(
                f"AgentReach: keypoints {self.keypoints} out of range for a token of {n_kept} "
                "keypoints"
            )
        bound = AgentReach(self.reduction, self.keypoints)
        bound._encoder = encoder
        bound._proprio = ProprioReader.of(world_model, range(p), "AgentReach")
        return bound

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `planner.energy.Cost`: (B, N, H, P, D), (B, P, D), (B, N, H, A) -> (B, N)."""
        if self._encoder is None or self._proprio is None:
            raise EnergyError(
                "AgentReach is not bound to a world model: use it through LatentEnergy (or call "
                "for_world_model) so that it knows the encoder's agent map"
            )
        z = z_pred[:, :, self._steps]  # (B, N, S, P, D)
        agent = self._encoder.place_agent(self._proprio(z))  # (B, N, S, A, 2)
        keypoints = self._encoder.token_points(z[..., 0, :])  # (B, N, S, K', 2)
        if self.keypoints is not None:
            keypoints = keypoints[..., self.keypoints, :]
        gaps = (agent[..., :, None, :] - keypoints[..., None, :, :]).square().sum(-1)
        return gaps.flatten(-2).min(-1).values.mean(-1)  # nearest pair, then over the steps
