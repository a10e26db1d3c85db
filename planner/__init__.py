"""Planning over action sequences: optimisers, composable energies, the MPC controller."""

from planner.async_controller import AsyncController
from planner.base import Energy, Planner, PlanRun
from planner.cem import CEM
from planner.controller import MPCController, shift_plan
from planner.energy import ActionMagnitude, Cost, GoalDistance, WeightedSum
from planner.gradcem import GradCEM
from planner.gradient import Adam, GradientDescent
from planner.icem import ICEM
from planner.joint_angle import JointAngleDistance
from planner.latent_energy import BoundEnergy, LatentEnergy
from planner.mppi import MPPI
from planner.plan_pool import PlanPool, PooledPlanner
from planner.registry import PLANNERS, make_planner
from planner.result import PlanResult
from planner.world_model import LatentDynamics, PlanningWorldModel

__all__ = [
    "CEM",
    "ICEM",
    "MPPI",
    "PLANNERS",
    "ActionMagnitude",
    "Adam",
    "AsyncController",
    "BoundEnergy",
    "Cost",
    "Energy",
    "GoalDistance",
    "JointAngleDistance",
    "GradCEM",
    "GradientDescent",
    "LatentDynamics",
    "LatentEnergy",
    "MPCController",
    "PlanPool",
    "PlanResult",
    "PlanRun",
    "Planner",
    "PlanningWorldModel",
    "PooledPlanner",
    "WeightedSum",
    "make_planner",
    "shift_plan",
]
