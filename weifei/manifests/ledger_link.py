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

Acceptance writes the receiver's intake (``receive``): one 接收 entry per manifest line on the
receiver's site with the accepted tonnes, the manifest number as its reference and the line's label
codes. The lifecycle has no way back from 已接收 (only 利用处置 → 闭环), so nothing reverses it there;
``unreceive`` exists for a correction path should one be added.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal

from django.db.models import QuerySet

from weifei.core.actors import SYSTEM
from weifei.plans import ledger
from weifei.plans.models import LedgerEntry
from weifei.registry.models import Site

from .models import Manifest, ManifestLine

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
    for container in manifest.container_rows():
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
    for container in manifest.container_rows():
        for entry_id in reversed(container.ledger_entry_ids or []):
            ledger.ledger_reverse(actor=SYSTEM, entry_id=entry_id, reason=f"联单 {manifest.number} {reason}")
        container.ledger_entry_ids = []
        container.save(update_fields=["ledger_entry_ids"])


# ---------------------------------------------------------------- the receiver's intake

Q6 = Decimal("0.000001")
INTAKE_ROLES = ("operator", "collector")  # 利用处置, 收集: the roles whose sites take in waste


def receiver_site_id(manifest: Manifest) -> int | None:
    """The site the receiver takes the waste in at: the manifest's receiver site; when it names none,
    the receiver's active site — its only one, or of several the first (lowest id) with the 利用处置
    or 收集 role, else the first. None when the receiver has no active site (nothing is written)."""
    if manifest.receiver_site_id is not None:
        return manifest.receiver_site_id
    sites = list(
        Site.objects.filter(enterprise_id=manifest.receiver_id, status=Site.Status.ACTIVE)
        .order_by("id")
        .values_list("id", "roles")
    )
    for site_id, roles in sites:
        if any(r in (roles or []) for r in INTAKE_ROLES):
            return int(site_id)
    return int(sites[0][0]) if sites else None


def accepted_tonnes(manifest: Manifest, lines: list[ManifestLine]) -> list[Decimal]:
    """The accepted tonnes of each line (in ``lines`` order). Full acceptance: the weighed quantity
    (the declared one if a line was never weighed). Partial acceptance: the refused tonnes are a
    figure for the whole manifest (``Manifest.refused_tonnes``), so they are shared out over the
    lines in proportion to what each weighed, to the gram (six places, rounded down), the last line
    with a quantity taking the remainder so that the lines add up to received − refused exactly.
    A refusal (or no acceptance yet) accepts nothing."""
    received = [line.received_tonnes if line.received_tonnes is not None else line.declared_tonnes for line in lines]
    if manifest.acceptance == Manifest.Acceptance.FULL:
        return received
    if manifest.acceptance != Manifest.Acceptance.PARTIAL:
        return [Decimal(0) for _ in lines]
    total = sum(received, Decimal(0))
    refused = min(max(manifest.refused_tonnes or Decimal(0), Decimal(0)), total)
    if total <= 0:
        return [Decimal(0) for _ in lines]
    shares = [(refused * r / total).quantize(Q6, rounding=ROUND_DOWN) for r in received]
    last = max((i for i, r in enumerate(received) if r > 0), default=len(lines) - 1)
    shares[last] += refused - sum(shares, Decimal(0))
    return [r - s for r, s in zip(received, shares, strict=True)]


def _intake(manifest: Manifest) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(
        kind=Kind.RECEIVED, manifest_number=manifest.number, reversal_of__isnull=True, reversed_by__isnull=True
    )


def receive(m: Manifest, now: dt.datetime) -> int:
    """The receiver accepted the load (``accept`` or ``accept_partially``): write its intake, one 接收
    entry per line with the accepted tonnes, on ``receiver_site_id(m)``. Returns the entries written:
    0 when the manifest's intake is already in the ledger (idempotent), when nothing was accepted,
    or when the receiver has no active site (the receiver then records the intake itself).

    Reads the acceptance from ``m`` as it is in memory (``services._apply`` sets it before the row is
    saved) and the weighed tonnes from the lines. Runs as the system, in the caller's transaction:
    if a ledger rule refuses (e.g. a code no longer in the 名录), the acceptance is refused too."""
    if m.acceptance not in (Manifest.Acceptance.FULL, Manifest.Acceptance.PARTIAL):
        return 0
    if _intake(m).exists():
        return 0
    site_id = receiver_site_id(m)
    if site_id is None:
        return 0
    lines = m.line_rows()
    codes_of: dict[int, list[str]] = {}
    for container in m.container_rows():  # in label-code order
        codes_of.setdefault(container.line_id, []).append(container.label_code)
    written = 0
    for line, tonnes in zip(lines, accepted_tonnes(m, lines), strict=True):
        if tonnes <= 0:
            continue
        codes = codes_of.get(line.id, [])
        ledger.ledger_receive(
            actor=SYSTEM, site_id=site_id, occurred_at=now, waste_code=line.waste_code, tonnes=tonnes,
            manifest_number=m.number, container_codes=codes, container_type=line.packaging,
            container_count=len(codes) or line.container_count or 1, common_name=line.common_name,
            handler=f"联单 {m.number}",
        )  # fmt: skip
        written += 1
    return written


def unreceive(m: Manifest, reason: str) -> int:
    """Reverse the manifest's intake (for a correction of the acceptance; the lifecycle has none
    today). Refused by the ledger while the receiver's later records still hold waste taken from it."""
    count = 0
    for entry_id in _intake(m).order_by("-id").values_list("id", flat=True):
        ledger.ledger_reverse(actor=SYSTEM, entry_id=entry_id, reason=f"联单 {m.number} {reason}")
        count += 1
    return count
