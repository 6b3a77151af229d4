"""Authorization-matrix parts, one module per capability (see ``base``). Each part defines
``extend(world)`` (create what its cells need, add ids to ``world.ids``) and ``CELLS`` (API
operations — routes starting with ``/`` — and pages, routes as Django lists them). Add a new part
to ``PARTS``."""

from __future__ import annotations

from types import ModuleType

from tests.authz import approvals, declarations, labels, ledger, ledger_files, manifests, notify, stock

PARTS: list[ModuleType] = [ledger, ledger_files, stock, labels, declarations, manifests, notify, approvals]
