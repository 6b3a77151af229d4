"""Authorization-matrix rows of this capability (see tests/authz/__init__.py)."""

from __future__ import annotations

from tests.authz.base import Cell, World

CELLS: list[Cell] = []


def extend(world: World) -> None:
    """Create what the cells need; put ids in ``world.ids``."""
