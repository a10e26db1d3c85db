"""The package layout of DESIGN.md, read from the source with `ast`.

- Apps (modules under benchmarks/ that define a `main` entry point) only parse config, call
  library functions and write outputs: nothing imports them, tests included (tests run them
  as ``python -m benchmarks.APP``).
- The library packages keep DESIGN's boundaries: envs/ imports neither planner/ nor
  worldmodels/; worldmodels/ does not import planner/; planner/ sees only energies, tensors
  and its world-model Protocols (STYLE: it imports nothing else of the project); no library
  package imports benchmarks/; worldmodels/ reads envs/ only through its dataset layer
  (envs.dataset, envs.episode_frames, envs.windows).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("planner", "envs", "worldmodels", "benchmarks", "tests")
FORBIDDEN = {
    "envs": {"planner", "worldmodels", "benchmarks"},
    "worldmodels": {"planner", "benchmarks"},
    "planner": {"envs", "worldmodels", "benchmarks"},
}


def module_name(path: Path) -> str:
    """benchmarks/bench.py -> benchmarks.bench; planner/__init__.py -> planner."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, ast.Module]:
    """Every module of the packages, parsed, by dotted name."""
    return {
        module_name(path): ast.parse(path.read_text(), filename=str(path))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imported(tree: ast.Module) -> set[str]:
    """Dotted names a module imports, anywhere in it: ``import a.b`` gives a.b, ``from a
    import b`` gives a and a.b (b may be a module)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def defines_main(tree: ast.Module) -> bool:
    """Whether a module defines a top-level function ``main`` (an entry point)."""
    return any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)


SOURCES = sources()
APPS = sorted(
    name for name, tree in SOURCES.items() if name.startswith("benchmarks.") and defines_main(tree)
)


def test_the_apps_are_found():
    assert {"benchmarks.bench", "benchmarks.collect", "benchmarks.train"} <= set(APPS)
    assert "benchmarks.report" not in APPS


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_module_imports_an_app(name):
    apps = sorted(set(APPS) & imported(SOURCES[name]))
    assert not apps, f"{name} imports the app modules {apps}; move what it uses out of them"


@pytest.mark.parametrize("name", sorted(n for n in SOURCES if n.split(".")[0] in FORBIDDEN))
def test_package_boundaries(name):
    package = name.split(".")[0]
    crossing = sorted(
        target for target in imported(SOURCES[name]) if target.split(".")[0] in FORBIDDEN[package]
    )
    assert not crossing, f"{name} imports {crossing}, which DESIGN.md forbids {package}/"


DATASET_LAYER = {"envs.dataset", "envs.episode_frames", "envs.windows"}


@pytest.mark.parametrize("name", sorted(n for n in SOURCES if n.startswith("worldmodels")))
def test_worldmodels_sees_envs_only_through_the_dataset_layer(name):
    from_envs = {t for t in imported(SOURCES[name]) if t.split(".")[0] == "envs"}
    # ``from envs.dataset import Episode`` names envs.dataset and envs.dataset.Episode
    outside = sorted(t for t in from_envs if ".".join(t.split(".")[:2]) not in DATASET_LAYER)
    assert not outside, f"{name} imports {outside}; worldmodels/ reads only {DATASET_LAYER}"
