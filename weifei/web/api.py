"""Dashboard figures, scoped by the actor."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from weifei.accounts.auth import ACTOR_OR_PUBLIC_AUTH, request_actor
from weifei.registry.selectors import enterprises_per_prefecture
from weifei.web.selectors import catalogue_size

router = Router(tags=["stats"])


class PrefectureCount(Schema):
    code: str
    name: str
    count: int


class OverviewOut(Schema):
    scope: str
    enterprises_total: int
    catalogue_codes: int
    enterprises_per_prefecture: list[PrefectureCount]


@router.get("/overview", response=OverviewOut, auth=ACTOR_OR_PUBLIC_AUTH)
def overview(request: HttpRequest) -> dict[str, object]:
    """Enterprises per prefecture the caller may see (the public: province totals) and catalogue size."""
    actor = request_actor(request)
    rows = enterprises_per_prefecture(actor=actor)
    return {
        "scope": actor.kind,
        "enterprises_total": sum(int(r["count"]) for r in rows),  # type: ignore[call-overload]
        "catalogue_codes": catalogue_size(actor=actor),
        "enterprises_per_prefecture": rows,
    }
