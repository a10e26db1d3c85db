"""World models: DINOv2-architecture encoders, latent dynamics predictors, checkpoints."""

from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import load_world_model, save_world_model
from worldmodels.encoder_loading import ENCODER_CONFIGS, load_encoder, save_encoder
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel

__all__ = [
    "ENCODER_CONFIGS",
    "DinoVisionTransformer",
    "LatentPredictor",
    "PredictorConfig",
    "WorldModel",
    "bundled_world_model",
    "load_encoder",
    "load_world_model",
    "save_encoder",
    "save_world_model",
]
