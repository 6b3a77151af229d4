"""Celery discovers ``tasks`` modules only: the plans app's periodic sweeps live in their own
modules and are registered here."""

from __future__ import annotations

from .tasks_declarations import declarations_sweep
from .tasks_stock import stock_ageing_sweep

__all__ = ["declarations_sweep", "stock_ageing_sweep"]
