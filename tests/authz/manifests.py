"""Authorization-matrix rows of the manifests capability (see tests/authz/__init__.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from tests.authz.base import ALL, NOBODY, OWN_READ, PLAN_WRITE, Cell, Check, World, api, changed, has_id, page

CELLS: list[Cell] = []


# ==== PAGES (manifest pages, PDF and road-control links) — begin ====================================
# Own manifest: the own enterprise sends HW08 from its site to itself (generator, carrier and operator).
ROAD_LINK_WRITE = frozenset({"own_admin", "own_member", "own_driver", "county_here", "prefecture", "province"})


def _mid(w: World) -> int:
    return w.ids["mp_manifest"]


def _pdf(response: Any, world: World) -> bool:
    return response.status_code == 200 and response["Content-Type"] == "application/pdf"


def _lists_own(response: Any, world: World) -> bool:
    return response.status_code == 200 and world.secrets["mp_number"] in response.content.decode()


def _offers_own_site(response: Any, world: World) -> bool:
    return response.status_code == 200 and f'value="{world.ids["site"]}"' in response.content.decode()


def _created(w: World) -> bool:
    from weifei.manifests.models import Manifest

    # the wizard's own emergency measures (the API block below adds manifests of the same consignor)
    return Manifest.objects.filter(consignor=w.own, emergency_measures="吸附棉、灭火器").exists()


def _cancelled(w: World) -> bool:
    from weifei.manifests.models import Manifest

    return Manifest.objects.get(id=w.ids["mp_manifest"]).state == "cancelled"


def _linked(w: World) -> bool:
    from weifei.manifests.models import RoadControlLink

    return RoadControlLink.objects.filter(manifest_id=w.ids["mp_manifest"]).count() == w.ids["mp_links"] + 1


def _revoked(w: World) -> bool:
    from weifei.manifests.models import RoadControlLink

    return RoadControlLink.objects.get(id=w.ids["mp_link_revoke"]).revoked_at is not None


def _lists_links(response: Any, world: World) -> bool:
    """The links page: the manifest's links listed, never a token."""
    page = response.content.decode() if response.status_code == 200 else ""
    return (
        f'data-link="{world.ids["mp_link_revoke"]}"' in page
        and world.secrets["mp_token"] not in page
        and world.secrets["mp_revoke_token"] not in page
    )


def _wizard(w: World) -> dict[str, Any]:
    return {
        "site_id": w.ids["site"],
        "receiver_id": w.own.id,
        "planned_method_code": "D10",
        "line-0-waste_code": "900-249-08",
        "line-0-tonnes": "1",
        "leg-0-carrier": w.own.id,
        "emergency_measures": "吸附棉、灭火器",
    }


PAGE_CELLS: list[Cell] = [
    page("get", "manifests/", OWN_READ, "/manifests/", ok=_lists_own),
    page("get", "manifests/new/", PLAN_WRITE, "/manifests/new/", ok=_offers_own_site),
    page("post", "manifests/new/", PLAN_WRITE, "/manifests/new/", body=_wizard, ok=changed(_created)),
    page("get", "manifests/<int:manifest_id>/", OWN_READ, lambda w: f"/manifests/{_mid(w)}/"),
    page(
        "post",
        "manifests/<int:manifest_id>/events/<str:event>/",
        PLAN_WRITE,
        lambda w: f"/manifests/{_mid(w)}/events/cancel/",
        body=lambda w: {"reason": "矩阵"},
        ok=changed(_cancelled),
    ),
    page("get", "manifests/<int:manifest_id>/driver/", OWN_READ, lambda w: f"/manifests/{_mid(w)}/driver/"),
    page("get", "manifests/<int:manifest_id>/receive/", OWN_READ, lambda w: f"/manifests/{_mid(w)}/receive/"),
    page("get", "manifests/<int:manifest_id>/pdf", OWN_READ, lambda w: f"/manifests/{_mid(w)}/pdf", ok=_pdf),
    page(
        "post",
        "manifests/<int:manifest_id>/road-link/",
        ROAD_LINK_WRITE,
        lambda w: f"/manifests/{_mid(w)}/road-link/",
        body=lambda w: {"hours": "24"},
        ok=changed(_linked),
    ),
    page(
        "get",
        "manifests/<int:manifest_id>/road-links/",
        OWN_READ,
        lambda w: f"/manifests/{_mid(w)}/road-links/",
        ok=_lists_links,
    ),
    page(
        "post",
        "manifests/<int:manifest_id>/road-links/<int:link_id>/revoke/",
        ROAD_LINK_WRITE,
        lambda w: f"/manifests/{_mid(w)}/road-links/{w.ids['mp_link_revoke']}/revoke/",
        ok=changed(_revoked),
    ),
    page("get", "manifests/road/<str:token>/", ALL, lambda w: f"/manifests/road/{w.secrets['mp_token']}/", ok=_pdf),
    page(
        "get", "manifests/road/<str:token>/", NOBODY, lambda w: f"/manifests/road/{w.secrets['mp_expired']}/", ok=_pdf
    ),
]
CELLS += PAGE_CELLS


def _pages_extend(world: World) -> None:
    """A draft manifest of the own site, two valid road-control links (one to revoke) and an expired one."""
    from weifei.core.actors import SYSTEM
    from weifei.manifests.models import RoadControlLink
    from weifei.manifests.roadlink import road_link_create
    from weifei.manifests.services import LegIn, LineIn, manifest_create

    m = manifest_create(
        actor=SYSTEM,
        consignor_site_id=world.site.id,
        receiver_id=world.own.id,
        lines=[LineIn(waste_code="900-249-08", declared_tonnes=Decimal("1.5"), packaging="铁桶")],
        legs=[LegIn(carrier_id=world.own.id)],
        emergency_measures="配备吸附棉、灭火器",
        planned_method_code="D10",
    )
    world.ids["mp_manifest"] = m.id
    world.secrets["mp_number"] = m.number
    _, world.secrets["mp_token"] = road_link_create(actor=SYSTEM, manifest_id=m.id)
    expired, world.secrets["mp_expired"] = road_link_create(actor=SYSTEM, manifest_id=m.id)
    RoadControlLink.objects.filter(id=expired.id).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    to_revoke, world.secrets["mp_revoke_token"] = road_link_create(actor=SYSTEM, manifest_id=m.id)
    world.ids["mp_link_revoke"] = to_revoke.id
    world.ids["mp_links"] = RoadControlLink.objects.filter(manifest_id=m.id).count()


# ==== PAGES — end ===================================================================================


# ==== API rows (weifei/manifests/api.py) — begin ================================================
# Who sees a manifest: every member of a party (the own unit is consignor, carrier and receiver
# here), regulators and liaisons over the consignor site's or the receiver's region — OWN_READ.
# Who signs the consignor's steps (create, cancel): the unit's admins and members — PLAN_WRITE;
# drivers (carrier role) and regulators get 409 for a step that is not theirs, readers 403.

MAN = "/api/v1/manifests"


def _api_draft(world: World) -> Any:
    from weifei.core.actors import SYSTEM
    from weifei.manifests.services import LegIn, LineIn, manifest_create

    return manifest_create(
        actor=SYSTEM,
        consignor_site_id=world.ids["site"],
        receiver_id=world.ids["own"],
        lines=[LineIn(waste_code="900-249-08", declared_tonnes=Decimal(1))],
        legs=[LegIn(carrier_id=world.ids["own"], driver_id=world.ids["driver"])],
        emergency_measures="配备吸附棉",
        planned_method_code="D10",
    )


def _api_extend(world: World) -> None:
    """A draft manifest of the own site (own unit as consignor, carrier and receiver) and a
    cancelled one (signed once: it is in the outgoing register, which leaves drafts out)."""
    from weifei.accounts.selectors import actor_for
    from weifei.manifests.services import manifest_transition

    draft = _api_draft(world)
    cancelled = _api_draft(world)
    manifest_transition(actor=actor_for(world.users["own_admin"]), manifest_id=cancelled.id, event="cancel")
    world.ids |= {"manifest": draft.id, "manifest_cancelled": cancelled.id}
    world.secrets |= {"manifest_number": draft.number, "manifest_cancelled_number": cancelled.number}


def _api_create_body(w: World) -> dict[str, Any]:
    return {
        "consignor_site_id": w.ids["site"],
        "receiver_id": w.ids["own"],
        "planned_method_code": "D10",
        "emergency_measures": "矩阵新建联单",
        "lines": [{"waste_code": "900-249-08", "declared_tonnes": "0.5"}],
        "legs": [{"carrier_id": w.ids["own"]}],
    }


def _api_created(w: World) -> bool:
    from weifei.manifests.models import Manifest

    return Manifest.objects.filter(emergency_measures="矩阵新建联单").exists()


def _api_cancelled(w: World) -> bool:
    from weifei.manifests.models import Manifest

    return Manifest.objects.get(id=w.ids["manifest"]).state == "cancelled"


def _api_in_register(response: Any, w: World) -> bool:
    return response.status_code == 200 and any(
        row["number"] == w.secrets["manifest_cancelled_number"] for row in response.json()["items"]
    )


def _api_total_at_least(n: int) -> Check:
    def check(response: Any, w: World) -> bool:
        return response.status_code == 200 and response.json()["total"] >= n

    return check


def _api_number_is(response: Any, w: World) -> bool:
    return response.status_code == 200 and response.json()["number"] == w.secrets["manifest_number"]


API_CELLS: list[Cell] = [
    api("get", f"{MAN}/", OWN_READ, ok=has_id("manifest")),
    api("post", f"{MAN}/", PLAN_WRITE, body=_api_create_body, ok=changed(_api_created)),
    api(
        "get",
        f"{MAN}/registers/{{kind}}",
        OWN_READ,
        lambda w: f"{MAN}/registers/outgoing?enterprise_id={w.ids['own']}",
        ok=_api_in_register,
    ),
    api(
        "get",
        f"{MAN}/by-number/{{number}}",
        OWN_READ,
        lambda w: f"{MAN}/by-number/{w.secrets['manifest_number']}",
        ok=_api_number_is,
    ),
    api("get", f"{MAN}/{{manifest_id}}", OWN_READ, lambda w: f"{MAN}/{w.ids['manifest']}", ok=_api_number_is),
    api(
        "post",
        f"{MAN}/{{manifest_id}}/events/{{event}}",
        PLAN_WRITE,
        lambda w: f"{MAN}/{w.ids['manifest']}/events/cancel",
        ok=changed(_api_cancelled),
    ),
    api(
        "get",
        f"{MAN}/{{manifest_id}}/signatures",
        OWN_READ,
        lambda w: f"{MAN}/{w.ids['manifest_cancelled']}/signatures",
        ok=_api_total_at_least(1),
    ),
    api(
        "get",
        f"{MAN}/{{manifest_id}}/history",
        OWN_READ,
        lambda w: f"{MAN}/{w.ids['manifest_cancelled']}/history",
        ok=_api_total_at_least(2),
    ),
    api(
        "get",
        f"{MAN}/{{manifest_id}}/allowed-events",
        OWN_READ,
        lambda w: f"{MAN}/{w.ids['manifest']}/allowed-events",
    ),
]


def _revision_rows(world: World) -> None:
    """Two pending revision requests on the draft: one the own unit must approve (requested by the
    other unit), one the own unit requested (so it may withdraw it)."""
    from django.utils import timezone

    from weifei.manifests.models import RevisionRequest

    change = [{"target": "manifest", "field": "emergency_measures", "initial": "x", "proposed": "矩阵修改后的措施"}]
    common = {"manifest_id": world.ids["manifest"], "reason": "矩阵", "changes": change, "created_at": timezone.now(),
              "version_before": 1, "requested_by_role": "carrier"}  # fmt: skip
    to_decide = RevisionRequest.objects.create(requested_by_organisation=world.other, required=[world.own.id], **common)
    to_withdraw = RevisionRequest.objects.create(
        requested_by_organisation=world.own, required=[world.other.id], **common
    )
    world.ids |= {
        "revision_decide": to_decide.id,
        "revision_withdraw": to_withdraw.id,
        "manifest_revise": _api_draft(world).id,
    }


def _revision_status(key: str, status: str) -> Check:
    def check(response: Any, w: World) -> bool:
        from weifei.manifests.models import RevisionRequest

        return response.status_code < 400 and RevisionRequest.objects.get(id=w.ids[key]).status == status

    return check


def _revised(w: World) -> bool:
    from weifei.manifests.models import Manifest

    return Manifest.objects.get(id=w.ids["manifest_revise"]).emergency_measures == "矩阵直接更正"


API_CELLS += [
    # a fresh draft: only the own unit is a party, so a correction is applied at once
    api(
        "post",
        f"{MAN}/{{manifest_id}}/revisions",
        PLAN_WRITE,
        lambda w: f"{MAN}/{w.ids['manifest_revise']}/revisions",
        body=lambda w: {
            "reason": "填错",
            "changes": [{"target": "manifest", "field": "emergency_measures", "proposed": "矩阵直接更正"}],
        },
        ok=lambda r, w: r.status_code == 201 and r.json()["status"] == "approved" and _revised(w),
    ),
    api(
        "get",
        f"{MAN}/{{manifest_id}}/revisions",
        OWN_READ,
        lambda w: f"{MAN}/{w.ids['manifest']}/revisions",
        ok=_api_total_at_least(2),
    ),
    api(
        "post",
        f"{MAN}/revisions/{{revision_id}}/decide",
        PLAN_WRITE,
        lambda w: f"{MAN}/revisions/{w.ids['revision_decide']}/decide",
        body=lambda w: {"approve": False, "comment": "不同意"},
        ok=_revision_status("revision_decide", "refused"),
    ),
    api(
        "post",
        f"{MAN}/revisions/{{revision_id}}/withdraw",
        PLAN_WRITE,
        lambda w: f"{MAN}/revisions/{w.ids['revision_withdraw']}/withdraw",
        ok=_revision_status("revision_withdraw", "withdrawn"),
    ),
]
CELLS += API_CELLS
# ==== API rows — end ===============================================================================


def extend(world: World) -> None:
    """Create what the cells need; put ids in ``world.ids``."""
    _pages_extend(world)
    _api_extend(world)
    _revision_rows(world)
