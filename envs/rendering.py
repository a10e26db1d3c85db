"""Headless MuJoCo rendering set-up shared by every environment."""

import os

# MuJoCo picks its OpenGL backend at import time; EGL renders without a display
# (Mesa's software rasteriser on a CPU machine). A user's own choice wins.
os.environ.setdefault("MUJOCO_GL", "egl")

MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 224  # every scene allocates an offscreen buffer of at least this side


def check_render_options(image_size: int, render_mode: str | None) -> None:
    """Raise a ValueError naming ``image_size`` or ``render_mode`` when out of range."""
    if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(
            f"image_size must be in [{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIZE}], got {image_size}"
        )
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
