"""Headless MuJoCo rendering set-up shared by every environment."""

import os

# MuJoCo picks its OpenGL backend at import time; EGL renders without a display
# (Mesa's software rasteriser on a CPU machine). A user's own choice wins.
os.environ.setdefault("MUJOCO_GL", "egl")
