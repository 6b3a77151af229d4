"""The ledger link (issue 5 scope 9): loading a manifest writes the consignor's ledger entries for
the loaded containers; a load that comes back (refused and returned) reverses them.

At pickup, for each labelled container the waste still on the consignor's site is found along its
chain (HJ 1259 Annex B): a 产生 or 出库 batch with a remaining quantity is sent out (委外) directly; an
入库 batch with a remaining quantity is first taken out of storage (出库) and then sent out. The
委外 entry names the manifest's receiver, its licence number (filled in by the receiver_licensed
guard) and the planned method. The entries are written by the system on the consignor's behalf
(the carrier signs the pickup; the consignor's ledger must follow), inside the pickup's transaction:
if any ledger rule refuses, the pickup is refused too.

Bulk loads without labelled containers write nothing here: the consignor records them itself.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from weifei.core.actors import SYSTEM
from weifei.plans import ledger
from weifei.plans.models import LedgerEntry

from .models import Manifest

Kind = LedgerEntry.Kind


def _open_batches(root: LedgerEntry) -> list[tuple[LedgerEntry, Decimal]]:
    """The container's batches that still hold waste, sources first: the 产生 record, its 入库 and
    their 出库 (reversed records excluded)."""
    out: list[tuple[LedgerEntry, Decimal]] = []
    frontier = [root]
    while frontier:
        entry = frontier.pop(0)
        left = ledger.batch_remaining(entry)
        if left > 0:
            out.append((entry, left))
        frontier += list(
            LedgerEntry.objects.filter(
                source=entry, kind__in=(Kind.STORED_IN, Kind.STORED_OUT), reversal_of__isnull=True
            )
            .exclude(reversed_by__isnull=False)
            .order_by("id")
        )
    return out


def ship(manifest: Manifest, now: dt.datetime) -> None:
    site_id = manifest.consignor_site_id
    for container in manifest.containers.select_related("line"):
        root = (
            LedgerEntry.objects.filter(
                site_id=site_id, kind=Kind.GENERATED, container_code=container.label_code, reversal_of__isnull=True
            )
            .exclude(reversed_by__isnull=False)
            .first()
        )
        if root is None:
            continue
        written: list[int] = []
        for batch, left in _open_batches(root):
            source = batch
            if batch.kind == Kind.STORED_IN:
                source = ledger.ledger_store_out(
                    actor=SYSTEM, site_id=site_id, source_id=batch.id, occurred_at=now, quantity=left,
                    destination=f"联单 {manifest.number}",
                )  # fmt: skip
                written.append(source.id)
            sent = ledger.ledger_send_out(
                actor=SYSTEM, site_id=site_id, source_id=source.id, occurred_at=now, quantity=left,
                method_code=manifest.planned_method_code, receiver_type="licensed", receiver_id=manifest.receiver_id,
                licence_number=manifest.receiver_licence_number, handler=f"联单 {manifest.number}",
            )  # fmt: skip
            written.append(sent.id)
        container.ledger_entry_ids = written
        container.save(update_fields=["ledger_entry_ids"])


def take_back(manifest: Manifest, reason: str = "拒收退回") -> None:
    """The refused load is back on the consignor's site (or goes elsewhere): reverse the pickup's
    entries, latest first."""
    for container in manifest.containers.all():
        for entry_id in reversed(container.ledger_entry_ids or []):
            ledger.ledger_reverse(actor=SYSTEM, entry_id=entry_id, reason=f"联单 {manifest.number} {reason}")
        container.ledger_entry_ids = []
        container.save(update_fields=["ledger_entry_ids"])
