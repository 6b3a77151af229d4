"""Raising and resolving supervision findings (``Finding``) from rule sweeps, idempotently.

A sweep calls ``finding_raise`` for every breach it sees; the first call creates the row and records
``finding.raised`` on the unit's stream, later calls for the same (rule, site, key) return ``None``
and write nothing. ``finding_resolve`` closes an open finding once (``finding.resolved``). Only the
system (a sweep) raises and resolves findings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from weifei.core.actors import Actor
from weifei.core.errors import PermissionDenied
from weifei.core.events import event_record
from weifei.registry.models import Site

from .models import Finding


def _system_only(actor: Actor) -> None:
    if actor.kind != "system":
        raise PermissionDenied("监管发现只能由系统规则产生", field="actor")


@transaction.atomic
def finding_raise(
    *,
    actor: Actor,
    rule: str,
    site: Site,
    key: str,
    severity: str,
    message: str,
    now: dt.datetime,
    details: dict[str, Any] | None = None,
) -> Finding | None:
    """Create the finding unless one exists for (rule, site, key); return it, or None if it existed."""
    _system_only(actor)
    if Finding.objects.filter(rule=rule, site=site, key=key).exists():
        return None
    try:
        with transaction.atomic():
            finding = Finding.objects.create(
                rule=rule,
                site=site,
                enterprise_id=site.enterprise_id,
                key=key[:80],
                severity=severity,
                message=message[:300],
                details=details or {},
                raised_at=now,
            )
    except IntegrityError:  # a concurrent sweep raised it first
        return None
    event_record(
        subject=finding,
        actor=actor,
        kind="finding.raised",
        after={"rule": rule, "site": site.id, "key": key, "severity": severity, "message": message},
        organisation=site.enterprise_id,
    )
    return finding


@transaction.atomic
def finding_resolve(*, actor: Actor, finding: Finding, now: dt.datetime, reason: str = "") -> bool:
    """Close an open finding (the breach is gone); False when it was already closed."""
    _system_only(actor)
    updated = Finding.objects.filter(id=finding.id, resolved_at__isnull=True).update(resolved_at=now)
    if not updated:
        return False
    finding.resolved_at = now
    event_record(
        subject=finding,
        actor=actor,
        kind="finding.resolved",
        after={"rule": finding.rule, "site": finding.site_id, "key": finding.key},
        reason=reason,
        organisation=finding.enterprise_id,
    )
    return True
