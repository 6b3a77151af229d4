"""Road-control links (道路检查链接): a time-limited URL that opens the manifest PDF without login,
for traffic police and inspectors stopping the vehicle (转移办法 第十四条: the carrier carries the
manifest; the electronic manifest is shown on demand).

A party to the manifest (any member of the consignor, a leg's carrier — drivers included — or the
receiver who may write) or a writing regulator who sees the manifest creates a link. The token is
32 random bytes (URL-safe); only its SHA-256 is stored, so the token is shown once (as a URL and
its QR code). A link works until it expires (72 hours by default, at most 30 days) or is revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.events import event_record

from .models import Manifest, RoadControlLink
from .selectors import manifest_get

DEFAULT_HOURS = 72
MAX_HOURS = 24 * 30
PARTY_ROLES = ("admin", "member", "driver")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _may_create(actor: Actor, manifest: Manifest) -> bool:
    if actor.read_only:
        return False
    if actor.kind == "system":
        return True
    if actor.kind == "regulator":
        return True  # manifest_get has already checked the jurisdiction
    if actor.kind != "enterprise":
        return False
    parties = {manifest.consignor_id, manifest.receiver_id}
    parties.update(manifest.legs.values_list("carrier_id", flat=True))
    return any(actor.role_in(p) in PARTY_ROLES for p in parties)


@transaction.atomic
def road_link_create(*, actor: Actor, manifest_id: int, hours: int = DEFAULT_HOURS) -> tuple[RoadControlLink, str]:
    """A new link; returns the row and the token (shown once, never stored)."""
    manifest = manifest_get(actor=actor, manifest_id=manifest_id)
    if not _may_create(actor, manifest):
        raise PermissionDenied("只有联单当事方或生态环境部门可以生成道路检查链接")
    if not 1 <= hours <= MAX_HOURS:
        raise ApplicationError(f"有效期应为 1–{MAX_HOURS} 小时", code="road_link_hours", field="hours")
    if manifest.state == "cancelled":
        raise ApplicationError("已作废的联单不能生成道路检查链接", code="road_link_cancelled", field="manifest")
    token = secrets.token_urlsafe(32)
    link = RoadControlLink.objects.create(
        manifest=manifest,
        token_hash=token_hash(token),
        expires_at=timezone.now() + dt.timedelta(hours=hours),
        created_by_id=actor.user_id,
    )
    event_record(
        subject=manifest,
        actor=actor,
        kind="manifest.road_link_created",
        after={"link": link.id, "expires_at": link.expires_at},
        organisation=manifest.consignor,
    )
    return link, token


@transaction.atomic
def road_link_revoke(*, actor: Actor, link_id: int) -> RoadControlLink:
    """Revoke a link (its creator's side: anyone who may create links on the manifest)."""
    link = RoadControlLink.objects.select_for_update().filter(id=link_id).first()
    if link is None:
        raise NotFound("链接不存在", field="link")
    manifest = manifest_get(actor=actor, manifest_id=link.manifest_id)
    if not _may_create(actor, manifest):
        raise PermissionDenied("只有联单当事方或生态环境部门可以撤销道路检查链接")
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        event_record(
            subject=manifest,
            actor=actor,
            kind="manifest.road_link_revoked",
            after={"link": link.id},
            organisation=manifest.consignor,
        )
    return link


def road_link_resolve(token: str) -> tuple[Manifest | None, str]:
    """The manifest of a valid link, or (None, why): "unknown", "expired" or "revoked"."""
    if not token or len(token) > 100:
        return None, "unknown"
    link = (
        RoadControlLink.objects.select_related(
            "manifest__consignor", "manifest__consignor_site__region", "manifest__receiver"
        )
        .filter(token_hash=token_hash(token))
        .first()
    )
    if link is None:
        return None, "unknown"
    if link.revoked_at is not None:
        return None, "revoked"
    if link.expires_at <= timezone.now():
        return None, "expired"
    return link.manifest, ""
