"""Headless MuJoCo rendering set-up shared by every environment."""

import os

from envs.errors import EnvArgumentError, check_integer

# MuJoCo picks its OpenGL backend at import time; EGL renders without a display
# (Mesa's software rasteriser on a CPU machine). A user's own choice wins.
os.environ.setdefault("MUJOCO_GL", "egl")

MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 224  # every scene allocates an offscreen buffer of at least this side


def check_render_options(image_size: int, render_mode: str | None) -> None:
    """Raise an EnvArgumentError naming ``image_size`` (an integer in [16, 224]) or
    ``render_mode`` when out of type or range."""
    check_integer("image_size", image_size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
    if render_mode not in (None, "rgb_array"):
        raise EnvArgumentError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")


def visual_xml(image_size: int, ambient: float, diffuse: float, quality: str = "") -> str:
    """MJCF ``<visual>``: an offscreen buffer fit for any image size, a grey headlight.

    Args:
        image_size: side of the images rendered (the buffer is at least ``MAX_IMAGE_SIZE``).
        ambient: the headlight's ambient grey level.
        diffuse: its diffuse grey level (no specular light).
        quality: an optional ``<quality .../>`` element.
    """
    offscreen = max(image_size, MAX_IMAGE_SIZE)
    return f"""<visual>
    <global offwidth="{offscreen}" offheight="{offscreen}"/>
    <headlight ambient="{ambient} {ambient} {ambient}" diffuse="{diffuse} {diffuse} {diffuse}"
               specular="0 0 0"/>
    {quality}
  </visual>"""


def top_camera_xml(height: float, view_extent: float) -> str:
    """MJCF of the orthographic camera ``top`` at ``height`` above the origin, looking down.

    It sees the square [-view_extent, view_extent]^2 of the ground plane.
    """
    return (
        f'<camera name="top" pos="0 0 {height}" projection="orthographic" '
        f'fovy="{2 * view_extent}"/>'
    )


def motors_xml(joints: tuple[str, ...], gear: float) -> str:
    """MJCF ``<actuator>`` with one motor per joint, controls limited to [-1, 1], ``gear`` each."""
    motors = "\n    ".join(
        f'<motor joint="{joint}" gear="{gear}" ctrlrange="-1 1" ctrllimited="true"/>'
        for joint in joints
    )
    return f"<actuator>\n    {motors}\n  </actuator>"
