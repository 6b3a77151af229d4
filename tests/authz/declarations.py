"""Authorization-matrix rows of declarations (申报): periods, generate, submit, correct, export,
mandates (委托申报) and findings — API operations and pages (see tests/authz/__init__.py).

The unit's admins and members declare (PLAN_WRITE); everyone who sees the site reads (OWN_READ);
only the unit's admin creates a mandate; a writing regulator over the unit's region approves;
the unit's admin or such a regulator revokes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from tests.authz.base import (
    LOGGED_IN,
    OWN_ADMIN,
    OWN_MEMBERS,
    OWN_READ,
    PLAN_WRITE,
    REG_SEE_HERE,
    REG_WRITE,
    TODAY,
    Cell,
    Check,
    World,
    _reload,
    api,
    changed,
    has_id,
    page,
)
from weifei.core.actors import SYSTEM
from weifei.core.models import Event
from weifei.plans import declarations as decl
from weifei.plans import ledger
from weifei.plans.findings import finding_raise
from weifei.plans.models import Declaration, DeclarationMandate
from weifei.registry import services

D = "/api/v1/declarations"
SH = ZoneInfo("Asia/Shanghai")
YEAR = TODAY.year - 1


def extend(world: World) -> None:
    """Two declarations of the own site (last year's annual: submitted, then the ledger changed, so
    it can be corrected; the year before: a draft), a pending mandate to a third party, a finding."""
    site_id = world.ids["site"]

    def entry(month: int) -> None:
        ledger.ledger_generate(actor=SYSTEM, site_id=site_id, occurred_at=dt.datetime(YEAR, month, 1, 9, tzinfo=SH),
                               waste_code="900-249-08", quantity=Decimal(1))  # fmt: skip

    entry(6)
    submitted = decl.declaration_generate(
        actor=SYSTEM, site_id=site_id, kind="annual", period_start=dt.date(YEAR, 1, 1)
    )
    decl.declaration_submit(actor=SYSTEM, declaration_id=submitted.id)
    entry(7)  # after submission: the period is stale and may be corrected
    draft = decl.declaration_generate(actor=SYSTEM, site_id=site_id, kind="annual",
                                      period_start=dt.date(YEAR - 1, 1, 1))  # fmt: skip
    agent = services.enterprise_create(actor=SYSTEM, credit_code="91110000802100433B", name="矩阵代理申报服务有限公司",
                                       region_key="220102", roles=("is_generator",))  # fmt: skip
    spare = services.enterprise_create(actor=SYSTEM, credit_code="91220101MA10000019", name="矩阵备用代理有限公司",
                                       region_key="220102", roles=("is_generator",))  # fmt: skip
    mandate = DeclarationMandate.objects.create(unit=world.own, agent=agent, basis="approved", status="pending",
                                                valid_from=TODAY, valid_to=TODAY + dt.timedelta(days=365))  # fmt: skip
    finding = finding_raise(actor=SYSTEM, rule="declaration_missing", site=world.site, key=f"matrix:{YEAR}",
                            severity="violation", message="矩阵测试", now=dt.datetime.now(tz=SH))  # fmt: skip
    assert finding is not None
    world.ids |= {
        "decl_submitted": submitted.id,
        "decl_draft": draft.id,
        "mandate": mandate.id,
        "mandate_spare_agent": spare.id,
        "decl_finding": finding.id,
    }


def _status(key: str, value: str) -> Check:
    return changed(lambda w: _reload(Declaration, w.ids[key]).status == value)


def _regenerated(w: World) -> bool:
    return Event.objects.filter(kind="declaration.generated", subject_id=str(w.ids["decl_draft"])).count() > 1


def _corrected(w: World) -> bool:
    return _reload(Declaration, w.ids["decl_submitted"]).revision == 1


def _mandate(value: str) -> Check:
    return changed(lambda w: _reload(DeclarationMandate, w.ids["mandate"]).status == value)


def _new_mandate(w: World) -> bool:
    return DeclarationMandate.objects.filter(agent_id=w.ids["mandate_spare_agent"]).exists()


def _generate_body(w: World) -> dict[str, object]:
    return {"site_id": w.ids["site"], "kind": "annual", "period_start": f"{YEAR - 1}-01-01"}


def _mandate_body(w: World) -> dict[str, object]:
    return {"unit_id": w.ids["own"], "agent_id": w.ids["mandate_spare_agent"], "basis": "approved",
            "valid_from": TODAY.isoformat(), "valid_to": (TODAY + dt.timedelta(days=200)).isoformat()}  # fmt: skip


MANDATE_READ = OWN_MEMBERS | REG_SEE_HERE
MANDATE_REVOKE = OWN_ADMIN | REG_WRITE

CELLS: list[Cell] = [
    # API
    api("get", f"{D}/", OWN_READ, lambda w: f"{D}/?site_id={w.ids['site']}", ok=has_id("decl_draft")),
    api("get", f"{D}/sites/{{site_id}}/periods", OWN_READ, lambda w: f"{D}/sites/{w.ids['site']}/periods?year={YEAR}"),
    api("post", f"{D}/generate", PLAN_WRITE, body=_generate_body, ok=changed(_regenerated)),
    api("get", f"{D}/mandates", MANDATE_READ, lambda w: f"{D}/mandates?status=pending", ok=has_id("mandate")),
    api("post", f"{D}/mandates", OWN_ADMIN, body=_mandate_body, ok=changed(_new_mandate)),
    api(
        "post",
        f"{D}/mandates/{{mandate_id}}/approve",
        REG_WRITE,
        lambda w: f"{D}/mandates/{w.ids['mandate']}/approve",
        ok=_mandate("active"),
    ),
    api(
        "post",
        f"{D}/mandates/{{mandate_id}}/revoke",
        MANDATE_REVOKE,
        lambda w: f"{D}/mandates/{w.ids['mandate']}/revoke",
        body=lambda w: {"reason": "矩阵"},
        ok=_mandate("revoked"),
    ),
    api("get", f"{D}/findings", OWN_READ, ok=has_id("decl_finding")),
    api("get", f"{D}/{{declaration_id}}", OWN_READ, lambda w: f"{D}/{w.ids['decl_draft']}"),
    api(
        "post",
        f"{D}/{{declaration_id}}/submit",
        PLAN_WRITE,
        lambda w: f"{D}/{w.ids['decl_draft']}/submit",
        ok=_status("decl_draft", "submitted"),
    ),
    api(
        "post",
        f"{D}/{{declaration_id}}/correct",
        PLAN_WRITE,
        lambda w: f"{D}/{w.ids['decl_submitted']}/correct",
        body=lambda w: {"reason": "矩阵更正"},
        ok=changed(_corrected),
    ),
    api(
        "get", f"{D}/{{declaration_id}}/export", OWN_READ, lambda w: f"{D}/{w.ids['decl_submitted']}/export?format=csv"
    ),
    # pages
    page("get", "plans/declarations/", LOGGED_IN, "/plans/declarations/"),
    page("get", "plans/declarations/", OWN_READ, lambda w: f"/plans/declarations/?site_id={w.ids['site']}&year={YEAR}"),
    page(
        "post",
        "plans/declarations/generate/",
        PLAN_WRITE,
        "/plans/declarations/generate/",
        body=_generate_body,
        ok=changed(_regenerated),
    ),
    page(
        "get",
        "plans/declarations/<int:declaration_id>/",
        OWN_READ,
        lambda w: f"/plans/declarations/{w.ids['decl_submitted']}/",
    ),
    page(
        "post",
        "plans/declarations/<int:declaration_id>/submit/",
        PLAN_WRITE,
        lambda w: f"/plans/declarations/{w.ids['decl_draft']}/submit/",
        ok=_status("decl_draft", "submitted"),
    ),
    page(
        "post",
        "plans/declarations/<int:declaration_id>/correct/",
        PLAN_WRITE,
        lambda w: f"/plans/declarations/{w.ids['decl_submitted']}/correct/",
        body=lambda w: {"reason": "矩阵更正"},
        ok=changed(_corrected),
    ),
    page(
        "get",
        "plans/declarations/<int:declaration_id>/export/",
        OWN_READ,
        lambda w: f"/plans/declarations/{w.ids['decl_submitted']}/export/?format=xlsx",
    ),
    page("get", "plans/declarations/mandates/", LOGGED_IN, "/plans/declarations/mandates/"),
    page(
        "post",
        "plans/declarations/mandates/new/",
        OWN_ADMIN,
        "/plans/declarations/mandates/new/",
        body=_mandate_body,
        ok=changed(_new_mandate),
    ),
    page(
        "post",
        "plans/declarations/mandates/<int:mandate_id>/approve/",
        REG_WRITE,
        lambda w: f"/plans/declarations/mandates/{w.ids['mandate']}/approve/",
        ok=_mandate("active"),
    ),
    page(
        "post",
        "plans/declarations/mandates/<int:mandate_id>/revoke/",
        MANDATE_REVOKE,
        lambda w: f"/plans/declarations/mandates/{w.ids['mandate']}/revoke/",
        ok=_mandate("revoked"),
    ),
]
