"""Management plans: sections by class, line validation, filing numbers, deadlines, versions,
review permissions, events — and nothing half-written on a refusal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.models import Event
from weifei.plans import rules, selectors, services
from weifei.plans.models import FilingCounter, ManagementPlan, PlanLine
from weifei.registry import services as registry
from weifei.registry.models import Enterprise, Facility, Site

pytestmark = pytest.mark.usefixtures("reference")
SH = ZoneInfo("Asia/Shanghai")
YEAR = 2026
PASSWORD = "plans-Pa55word!"


class W:
    own: Enterprise
    other: Enterprise
    operator: Enterprise
    site: Site
    site2: Site
    other_site: Site
    gen: Facility
    store: Facility
    disp: Facility
    other_store: Facility
    actors: dict[str, Actor]


@pytest.fixture
def w() -> W:
    w = W()
    w.own = registry.enterprise_create(actor=SYSTEM, credit_code="91350100M000100Y43", name="本单位计划测试有限公司",
                                       region_key="220102", roles=("is_generator",))  # fmt: skip
    w.other = registry.enterprise_create(actor=SYSTEM, credit_code="91130200699229617X", name="他单位计划测试有限公司",
                                         region_key="220202", roles=("is_generator",))  # fmt: skip
    w.operator = registry.enterprise_create(actor=SYSTEM, credit_code="911302307808371268", name="处置测试有限公司",
                                            region_key="220102", roles=("is_operator",))  # fmt: skip
    registry.licence_create(actor=SYSTEM, holder=w.operator, number="吉危许计划01", kind="comprehensive",
                            methods=["disposal"], annual_capacity_tonnes=Decimal(1000), valid_from=dt.date(2025, 1, 1),
                            categories=["HW08"])  # fmt: skip
    w.site = registry.site_create(actor=SYSTEM, enterprise=w.own, name="一厂", address="南关区计划路1号",
                                  region_key="220102", roles=["generator"])  # fmt: skip
    w.site2 = registry.site_create(actor=SYSTEM, enterprise=w.own, name="二厂", address="南关区计划路2号",
                                   region_key="220102", roles=["generator"])  # fmt: skip
    w.other_site = registry.site_create(actor=SYSTEM, enterprise=w.other, name="他厂", address="吉林市计划路1号",
                                        region_key="220202", roles=["generator"])  # fmt: skip
    w.gen = registry.facility_create(actor=SYSTEM, site=w.site, kind="generating", name="机加工线")
    w.store = registry.facility_create(actor=SYSTEM, site=w.site, kind="storage", name="贮存库",
                                       storage_capacity_tonnes=Decimal(20))  # fmt: skip
    w.disp = registry.facility_create(actor=SYSTEM, site=w.site, kind="disposal", name="焚烧炉",
                                      design_capacity_tonnes=Decimal(100))  # fmt: skip
    w.other_store = registry.facility_create(actor=SYSTEM, site=w.other_site, kind="storage", name="他库",
                                            storage_capacity_tonnes=Decimal(5))  # fmt: skip
    Site.objects.filter(id__in=[w.site.id, w.site2.id, w.other_site.id]).update(management_class="key")
    Site.objects.filter(id=w.site2.id).update(management_class="simplified")  # no facilities: no A.2
    w.actors = {}
    for role in ("admin", "member", "driver", "reader"):
        user = enterprise_user_create(actor=SYSTEM, enterprise=w.own, username=f"p_{role}", password=PASSWORD,
                                      full_name=role, role=role).user  # fmt: skip
        w.actors[role] = actor_for(user)
    other_user = enterprise_user_create(actor=SYSTEM, enterprise=w.other, username="p_other", password=PASSWORD,
                                        full_name="他", role="admin").user  # fmt: skip
    w.actors["other"] = actor_for(other_user)
    for name, region, role in (("county_here", "220102", "regulator"), ("county_elsewhere", "220202", "regulator"),
                               ("liaison", "220000", "liaison")):  # fmt: skip
        user = regulator_account_create(actor=SYSTEM, username=f"p_{name}", password=PASSWORD, full_name=name,
                                        region_key=region, department="测试", role=role).user  # fmt: skip
        w.actors[name] = actor_for(user)
    return w


def _line(w: W, plan: ManagementPlan, section: str, **kw: Any) -> PlanLine:
    defaults: dict[str, Any] = {"waste_code": "900-249-08", "tonnes": Decimal("5")}
    if section == "A3":
        defaults["facility_code"] = w.gen.code
    if section == "A4":
        defaults["facility_code"] = w.store.code
    if section == "A5":
        defaults |= {"facility_code": w.disp.code, "method_code": "D10"}
    if section == "A6":
        defaults["measures"] = "改进工艺"
    if section == "A7":
        defaults |= {"transfer_type": "in_province", "receiver_type": "licensed", "receiver_id": w.operator.id,
                     "method_code": "D10"}  # fmt: skip
    return services.plan_line_add(actor=w.actors["admin"], plan_id=plan.id, section=section, **(defaults | kw))


def _ready(w: W, site: Site | None = None, year: int = YEAR) -> ManagementPlan:
    plan = services.plan_draft(actor=w.actors["admin"], site_id=(site or w.site).id, year=year)
    _line(w, plan, "A3", facility_code=w.gen.code if plan.site_id == w.site.id else "")
    _line(w, plan, "A7")
    return plan


def _at(monkeypatch: pytest.MonkeyPatch, local: dt.datetime) -> None:
    monkeypatch.setattr(services, "_now", lambda: local.replace(tzinfo=SH).astimezone(dt.UTC))


# ---- rules ---------------------------------------------------------------------------------


def test_sections_by_class_follow_hj1259_5_3() -> None:
    assert rules.sections_for("key") == ("A1", "A2", "A3", "A4", "A5", "A6", "A7")
    assert rules.sections_for("simplified") == ("A1", "A3", "A4", "A6", "A7")
    assert rules.sections_for("registered") == ("A1", "A3", "A7")


def test_deadline_is_31_march_local() -> None:
    assert not rules.filed_late(year=2026, filed_on_local=dt.date(2026, 3, 31))
    assert rules.filed_late(year=2026, filed_on_local=dt.date(2026, 4, 1))


def test_plan_missing_flags_from_1_april_citing_article_112() -> None:
    facts = rules.SitePlanFacts(1, "一厂", "active", False)
    assert rules.plan_missing(facts, year=2026, today=dt.date(2026, 3, 31)) is None
    finding = rules.plan_missing(facts, year=2026, today=dt.date(2026, 4, 1))
    assert finding is not None and "第一百一十二条(二)" in finding.source
    assert (
        rules.plan_missing(rules.SitePlanFacts(1, "一厂", "closed", False), year=2026, today=dt.date(2026, 5, 1))
        is None
    )
    assert (
        rules.plan_missing(rules.SitePlanFacts(1, "一厂", "active", True), year=2026, today=dt.date(2026, 5, 1)) is None
    )


def test_filing_number_format() -> None:
    assert rules.filing_number("220102", 2026, 123) == "220102-2026-000123"


def test_missing_sections() -> None:
    a1 = {"A1": {"name": "x", "credit_code": "y"}}
    assert rules.missing_sections(management_class="registered", content=a1, line_counts={"A3": 1, "A7": 1}) == []
    assert rules.missing_sections(management_class="registered", content=a1, line_counts={"A3": 1}) == ["A7"]
    assert rules.missing_sections(management_class="key", content=a1, line_counts={"A3": 1, "A5": 1}) == ["A2"]
    assert rules.missing_sections(management_class="simplified", content={}, line_counts={}) == ["A1", "A3", "A7"]


# ---- drafting and sections -----------------------------------------------------------------


def test_draft_prefills_a1_a2_and_last_years_lines(w: W) -> None:
    last = _ready(w, year=YEAR - 1)
    _line(w, last, "A5")
    plan = services.plan_draft(actor=w.actors["member"], site_id=w.site.id, year=YEAR)
    assert plan.content["A1"]["credit_code"] == w.own.credit_code
    assert {f["code"] for f in plan.content["A2"]["facilities"]} == {w.gen.code, w.store.code, w.disp.code}
    assert sorted(plan.lines.values_list("section", flat=True)) == ["A3", "A5", "A7"]
    with pytest.raises(ApplicationError) as exc:
        services.plan_draft(actor=w.actors["admin"], site_id=w.site.id, year=YEAR)
    assert exc.value.code == "plan_exists"


def test_registered_unit_cannot_add_a5_naming_the_rule(w: W) -> None:
    Site.objects.filter(id=w.site.id).update(management_class="registered")
    plan = services.plan_draft(actor=w.actors["admin"], site_id=w.site.id, year=YEAR)
    assert "A2" not in plan.content
    for section in ("A4", "A5", "A6"):
        with pytest.raises(ApplicationError) as exc:
            _line(w, plan, section)
        assert "HJ 1259 5.3" in exc.value.message and exc.value.field == "section"
    _line(w, plan, "A3")
    _line(w, plan, "A7")


def test_simplified_unit_sections(w: W) -> None:
    Site.objects.filter(id=w.site.id).update(management_class="simplified")
    plan = services.plan_draft(actor=w.actors["admin"], site_id=w.site.id, year=YEAR)
    _line(w, plan, "A4")
    _line(w, plan, "A6")
    with pytest.raises(ApplicationError, match="简化管理单位"):
        _line(w, plan, "A5")


# ---- line validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "kw", "field", "code"),
    [
        ("A3", {"waste_code": "900-999-08"}, "waste_code", "waste_code_not_listed"),
        ("A3", {"waste_code": "900-249"}, "waste_code", "waste_code_format"),
        ("A3", {"tonnes": Decimal("-1")}, "tonnes", "tonnes_not_positive"),
        ("A3", {"tonnes": Decimal("0")}, "tonnes", "tonnes_not_positive"),
        ("A3", {"tonnes": Decimal("5000000")}, "tonnes", "tonnes_too_large"),
        ("A3", {"tonnes": Decimal("1.2345")}, "tonnes", "tonnes_precision"),
        ("A4", {"facility_code": "OTHER"}, "facility_code", "facility_not_of_site"),
        ("A4", {"facility_code": "GEN"}, "facility_code", "facility_kind"),
        ("A5", {"method_code": "Z99"}, "method_code", "method_unknown"),
        ("A6", {"measures": " "}, "measures", "measures_required"),
        ("A7", {"waste_code": "900-041-49"}, "receiver_id", "receiver_not_licensed"),
        ("A7", {"receiver_id": None}, "receiver_id", "receiver_required"),
        ("A7", {"transfer_type": "sideways"}, "transfer_type", "transfer_type_invalid"),
        ("A7", {"transfer_type": "abroad"}, "receiver_type", "receiver_type_mismatch"),
        ("A7", {"licence_number": "吉危许别的"}, "licence_number", "licence_number_mismatch"),
    ],
)
def test_bad_lines_are_refused_naming_the_field(w: W, section: str, kw: dict[str, Any], field: str, code: str) -> None:
    plan = services.plan_draft(actor=w.actors["admin"], site_id=w.site.id, year=YEAR)
    if kw.get("facility_code") == "OTHER":
        kw["facility_code"] = w.other_store.code
    if kw.get("facility_code") == "GEN":
        kw["facility_code"] = w.gen.code
    events = Event.objects.count()
    with pytest.raises(ApplicationError) as exc:
        _line(w, plan, section, **kw)
    assert (exc.value.field, exc.value.code) == (field, code)
    assert plan.lines.count() == 0 and Event.objects.count() == events  # nothing half-written


def test_receiver_licence_must_be_valid_in_the_plan_year(w: W) -> None:
    plan = services.plan_draft(actor=w.actors["admin"], site_id=w.site.id, year=2024)  # licence from 2025
    with pytest.raises(ApplicationError) as exc:
        _line(w, plan, "A7")
    assert exc.value.code == "receiver_not_licensed" and "2024" in exc.value.message
    line = _line(w, services.plan_draft(actor=w.actors["admin"], site_id=w.site2.id, year=YEAR), "A7")
    assert line.licence_number == "吉危许计划01" and line.receiver_name == w.operator.name


def test_drivers_readers_others_and_regulators_cannot_write(w: W) -> None:
    for who in ("driver", "reader", "other", "county_here", "liaison"):
        with pytest.raises(PermissionDenied):
            services.plan_draft(actor=w.actors[who], site_id=w.site.id, year=YEAR)
    plan = services.plan_draft(actor=w.actors["admin"], site_id=w.site.id, year=YEAR)
    for who in ("driver", "reader", "other"):
        with pytest.raises(PermissionDenied):
            services.plan_line_add(
                actor=w.actors[who], plan_id=plan.id, section="A3", waste_code="900-249-08", tonnes=Decimal(1)
            )
        with pytest.raises(PermissionDenied):
            services.plan_file(actor=w.actors[who], plan_id=plan.id)


# ---- filing --------------------------------------------------------------------------------


def test_incomplete_plan_is_refused_and_takes_no_number(w: W) -> None:
    plan = services.plan_draft(actor=w.actors["admin"], site_id=w.site.id, year=YEAR)
    _line(w, plan, "A3")
    with pytest.raises(ApplicationError) as exc:
        services.plan_file(actor=w.actors["admin"], plan_id=plan.id)
    assert exc.value.code == "plan_incomplete" and "A.5 自行利用/处置情况 或 A.7 转移情况" in exc.value.message
    plan.refresh_from_db()
    assert plan.status == "draft" and plan.filing_number is None
    assert not FilingCounter.objects.exists() and not plan.versions.exists()


def test_filing_numbers_are_sequential_per_region_year(w: W) -> None:
    a = services.plan_file(actor=w.actors["admin"], plan_id=_ready(w).id)
    b = services.plan_file(actor=w.actors["admin"], plan_id=_ready(w, w.site2).id)
    c = services.plan_file(actor=w.actors["admin"], plan_id=_ready(w, w.site, YEAR + 1).id)
    assert (a.filing_number, b.filing_number, c.filing_number) == (
        "220102-2026-000001",
        "220102-2026-000002",
        "220102-2027-000001",
    )
    other = services.plan_draft(actor=w.actors["other"], site_id=w.other_site.id, year=YEAR)
    services.plan_line_add(actor=w.actors["other"], plan_id=other.id, section="A3", waste_code="900-249-08",
                           tonnes=Decimal(1))  # fmt: skip
    services.plan_line_add(actor=w.actors["other"], plan_id=other.id, section="A7", waste_code="900-249-08",
                           tonnes=Decimal(1), transfer_type="in_province", receiver_type="licensed",
                           receiver_id=w.operator.id, method_code="D10")  # fmt: skip
    assert services.plan_file(actor=w.actors["other"], plan_id=other.id).filing_number == "220202-2026-000001"


def test_filing_on_31_march_is_on_time_and_1_april_late(w: W, monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, dt.datetime(2026, 3, 31, 23, 59))  # 15:59 UTC, still 31 March in Jilin
    on_time = services.plan_file(actor=w.actors["admin"], plan_id=_ready(w).id)
    _at(monkeypatch, dt.datetime(2026, 4, 1, 0, 5))  # 16:05 UTC on 31 March, but 1 April in Jilin
    late = services.plan_file(actor=w.actors["admin"], plan_id=_ready(w, w.site2).id)
    assert (on_time.late, late.late) == (False, True)
    assert late.filed_at is not None and late.filed_at.astimezone(dt.UTC).date() == dt.date(2026, 3, 31)


def test_missing_plan_selector_lists_sites_of_the_jurisdiction(w: W) -> None:
    services.plan_file(actor=w.actors["admin"], plan_id=_ready(w).id)
    rows = selectors.sites_without_plan(actor=w.actors["county_here"], year=YEAR, today=dt.date(2026, 4, 1))
    ids = {r["site"].id for r in rows}
    assert w.site2.id in ids and w.site.id not in ids and w.other_site.id not in ids
    assert all(r["finding"] is not None for r in rows)
    assert selectors.sites_without_plan(actor=w.actors["admin"], year=YEAR) == []


# ---- versions and review -------------------------------------------------------------------


def test_change_creates_a_version_keeps_the_number_and_shows_a_diff(w: W) -> None:
    plan = services.plan_file(actor=w.actors["admin"], plan_id=_ready(w).id)
    number = plan.filing_number
    with pytest.raises(ApplicationError, match="变更"):
        _line(w, plan, "A4")
    with pytest.raises(ApplicationError) as exc:
        services.plan_change(actor=w.actors["admin"], plan_id=plan.id, reason=" ")
    assert exc.value.field == "reason"
    plan = services.plan_change(actor=w.actors["admin"], plan_id=plan.id, reason="新增贮存")
    assert (plan.version, plan.status) == (2, "draft")
    _line(w, plan, "A4", tonnes=Decimal("2.5"))
    a3 = plan.lines.get(section="A3")
    services.plan_line_remove(actor=w.actors["admin"], plan_id=plan.id, line_id=a3.id)
    _line(w, plan, "A3", tonnes=Decimal(8))
    diff = selectors.plan_diff(plan=plan)
    assert [(d["change"], d["section"]) for d in diff] == [("changed", "A3"), ("added", "A4")]
    assert diff[0]["fields"]["tonnes"] == {"before": "5.000", "after": "8.000"}
    plan = services.plan_file(actor=w.actors["admin"], plan_id=plan.id)
    assert plan.filing_number == number and plan.version == 2
    assert list(plan.versions.values_list("version", flat=True)) == [1, 2]
    assert [d["change"] for d in selectors.version_diff(plan=plan, old=1, new=2)] == ["changed", "added"]
    assert FilingCounter.objects.get().last_serial == 1


def test_review_permissions(w: W) -> None:
    plan = services.plan_file(actor=w.actors["admin"], plan_id=_ready(w).id)
    with pytest.raises(NotFound):
        selectors.plan_get(actor=w.actors["county_elsewhere"], plan_id=plan.id)
    with pytest.raises(PermissionDenied):
        services.plan_review(actor=w.actors["county_elsewhere"], plan_id=plan.id, accept=True)
    for who in ("liaison", "reader", "admin"):
        selectors.plan_get(actor=w.actors[who], plan_id=plan.id)  # they see it …
        with pytest.raises(PermissionDenied):  # … but cannot review
            services.plan_review(actor=w.actors[who], plan_id=plan.id, accept=True)
    with pytest.raises(ApplicationError) as exc:
        services.plan_review(actor=w.actors["county_here"], plan_id=plan.id, accept=False, comment="")
    assert exc.value.field == "comment"
    plan = services.plan_review(
        actor=w.actors["county_here"], plan_id=plan.id, accept=False, comment="A.7 接收单位不全"
    )
    assert plan.status == "returned"
    _line(w, plan, "A6")  # a returned plan is edited and filed again
    plan = services.plan_file(actor=w.actors["admin"], plan_id=plan.id)
    assert plan.version == 2 and list(plan.versions.values_list("version", flat=True)) == [1, 2]
    plan = services.plan_review(actor=w.actors["county_here"], plan_id=plan.id, accept=True, comment="")
    assert plan.status == "accepted" and plan.reviewer_id == w.actors["county_here"].user_id


def test_events_are_recorded_on_the_enterprise_stream(w: W) -> None:
    plan = services.plan_file(actor=w.actors["admin"], plan_id=_ready(w).id)
    services.plan_review(actor=w.actors["county_here"], plan_id=plan.id, accept=True)
    kinds = list(
        Event.objects.filter(subject_type="plans.managementplan", subject_id=str(plan.id))
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == ["plan.drafted", "plan.line_added", "plan.line_added", "plan.filed", "plan.accepted"]
    assert set(Event.objects.filter(kind__startswith="plan.").values_list("organisation_id", flat=True)) == {w.own.id}


# ---- API and pages -------------------------------------------------------------------------


def _client(w: W, username: str) -> Client:
    from django.contrib.auth.models import User

    client = Client()
    force_login(client, User.objects.get(username=username))
    return client


def test_api_round_trip_and_errors(w: W) -> None:
    admin = _client(w, "p_admin")
    r = admin.post("/api/v1/plans/", {"site_id": w.site.id, "year": YEAR}, content_type="application/json")
    assert r.status_code == 201, r.content
    plan_id = r.json()["id"]
    r = admin.post(f"/api/v1/plans/{plan_id}/lines", {"section": "A3", "waste_code": "900-999-08", "tonnes": "1"},
                   content_type="application/json")  # fmt: skip
    assert r.status_code == 400 and r.json()["field"] == "waste_code" and "900-999-08" in r.json()["message"]
    for section, extra in (("A3", {}), ("A7", {"transfer_type": "in_province", "receiver_type": "licensed",
                                               "receiver_id": w.operator.id, "method_code": "D10"})):  # fmt: skip
        r = admin.post(f"/api/v1/plans/{plan_id}/lines", {"section": section, "waste_code": "900-249-08",
                       "tonnes": "3", **extra}, content_type="application/json")  # fmt: skip
        assert r.status_code == 201, r.content
    r = admin.post(f"/api/v1/plans/{plan_id}/file", content_type="application/json")
    assert r.status_code == 200 and r.json()["filing_number"] == "220102-2026-000001"
    county = _client(w, "p_county_here")
    assert any(p["id"] == plan_id for p in county.get("/api/v1/plans/review-queue").json()["items"])
    assert _client(w, "p_county_elsewhere").post(f"/api/v1/plans/{plan_id}/review", {"accept": True},
                                                 content_type="application/json").status_code == 404  # fmt: skip
    assert _client(w, "p_liaison").post(f"/api/v1/plans/{plan_id}/review", {"accept": True},
                                        content_type="application/json").status_code == 403  # fmt: skip
    assert _client(w, "p_reader").post(f"/api/v1/plans/{plan_id}/review", {"accept": True},
                                       content_type="application/json").status_code == 403  # fmt: skip
    r = county.post(f"/api/v1/plans/{plan_id}/review", {"accept": True}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    page = admin.get(f"/plans/{plan_id}/receipt/")
    text = page.content.decode()
    assert page.status_code == 200 and "220102-2026-000001" in text and w.own.name in text and "备案回执" in text


def test_pages_show_queue_missing_list_and_refusals(w: W) -> None:
    plan = _ready(w)
    admin = _client(w, "p_admin")
    r = admin.post(
        f"/plans/{plan.id}/lines/", {"section": "A3", "waste_code": "900-999-08", "tonnes": "1"}, follow=True
    )
    assert "900-999-08" in r.content.decode() and plan.lines.count() == 2  # the message, no line
    r = admin.post(f"/plans/{plan.id}/file/", follow=True)
    assert "220102-2026-000001" in r.content.decode()
    county = _client(w, "p_county_here").get("/plans/?year=2026").content.decode()
    assert "220102-2026-000001" in county and "二厂" in county  # queue, and site2 has no plan
    assert "第一百一十二条" in county or "未到截止日期" in county
    elsewhere = _client(w, "p_county_elsewhere")
    assert elsewhere.get(f"/plans/{plan.id}/").status_code == 404
    assert elsewhere.get(f"/plans/{plan.id}/receipt/").status_code == 404
