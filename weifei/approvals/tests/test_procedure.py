"""The procedure of 转移办法 第二十一条–第二十八条: the application and its refusals, who acts on each
step, the working-day timers (deemed acceptance exactly after 5 working days, across 国庆), the
decision's validity (the minimum of three limits), consumption to exhaustion and after expiry, the
whitelist's simplified path, withdrawal, and the sweep's findings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from weifei.approvals import rules, services
from weifei.approvals.models import (
    Application,
    ApprovalFinding,
    ApprovalLine,
    Consumption,
    Step,
    WhitelistEntry,
)
from weifei.approvals.tests.conftest import CODE, CODE2, RECEIVER_CREDIT, W, at, draft, to_decision
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.models import Event

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
DAY = dt.date(2026, 3, 2)  # a Monday


def _refused(fn, code: str, field: str | None = None):  # type: ignore[no-untyped-def]
    with pytest.raises(ApplicationError) as exc:
        fn()
    assert exc.value.code == code, exc.value.message
    if field is not None:
        assert exc.value.field == field
    return exc.value


# ---- the application -----------------------------------------------------------------------------


def test_draft_records_lines_attachments_and_an_event(w: W) -> None:
    app = draft(w, today=DAY)
    assert app.status == "draft"
    assert [(x.waste_code, x.category, x.tonnes) for x in app.lines.all()] == [
        (CODE, "HW08", Decimal(10)),
        (CODE2, "HW49", Decimal("2.5")),
    ]
    assert app.attachments.get().sha256 == "a" * 64
    assert Event.objects.filter(kind="approval.application.created", subject_id=str(app.id)).count() == 1


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"receiver_province": "220000"}, "same_province", "receiver_province"),
        ({"receiver_province": "2100"}, "province_invalid", "receiver_province"),
        ({"receiver_credit_code": "91350100M000100Y44"}, "credit_code_checksum", "receiver_credit_code"),
        ({"receiver_credit_code": "91350100M000100Y43"}, "receiver_is_consignor", "receiver_credit_code"),
        ({"method_code": "X99"}, "method_unknown", "method_code"),
        ({"period_to": DAY - dt.timedelta(days=1)}, "period_invalid", "period_to"),
        ({"receiver_licence_valid_to": DAY - dt.timedelta(days=1)}, "licence_expired", "receiver_licence_valid_to"),
        ({"lines": []}, "lines_required", "lines"),
        ({"lines": [{"waste_code": "900-249-0", "tonnes": 1}]}, "waste_code_format", "lines[0].waste_code"),
        ({"lines": [{"waste_code": CODE, "tonnes": 0}]}, "tonnes_not_positive", "lines[0].tonnes"),
        (
            {"lines": [{"waste_code": CODE, "tonnes": 1}, {"waste_code": CODE, "tonnes": 2}]},
            "duplicate_code",
            "lines[1].waste_code",
        ),
    ],
)
def test_bad_applications_are_refused_and_nothing_is_written(w: W, change: dict, code: str, field: str) -> None:
    kwargs = dict(
        actor=w.actors["admin"],
        site_id=w.site.id,
        receiver_province="210000",
        receiver_name="辽宁测试处置",
        receiver_credit_code=RECEIVER_CREDIT,
        receiver_licence_number="辽危001",
        receiver_licence_valid_to=DAY + dt.timedelta(days=400),
        method_code="D10",
        period_from=DAY,
        period_to=DAY + dt.timedelta(days=300),
        lines=[{"waste_code": CODE, "tonnes": 1}],
        today=DAY,
    )
    kwargs.update(change)
    if "credit_code_checksum" == code:
        with pytest.raises(ApplicationError) as exc:
            services.application_create(**kwargs)  # type: ignore[arg-type]
        assert exc.value.field == field
    else:
        _refused(lambda: services.application_create(**kwargs), code, field)  # type: ignore[arg-type]
    assert not Application.objects.exists()


@pytest.mark.parametrize("who", ["reader", "other", "county", "province"])
def test_only_the_consignors_writers_apply(w: W, who: str) -> None:
    with pytest.raises(PermissionDenied):
        services.application_create(
            actor=w.actors[who],
            site_id=w.site.id,
            receiver_province="210000",
            receiver_name="辽宁",
            receiver_credit_code=RECEIVER_CREDIT,
            receiver_licence_number="辽危001",
            receiver_licence_valid_to=DAY + dt.timedelta(days=400),
            method_code="D10",
            period_from=DAY,
            period_to=DAY + dt.timedelta(days=300),
            lines=[{"waste_code": CODE, "tonnes": 1}],
            today=DAY,
        )
    assert not Application.objects.exists()


def test_submit_opens_the_completeness_step_and_no_edit_after(w: W) -> None:
    app = draft(w, today=DAY)
    _refused(
        lambda: services.application_submit(actor=w.actors["other"], application_id=app.id, now=at(DAY)), "forbidden"
    )
    services.application_submit(actor=w.actors["member"], application_id=app.id, now=at(DAY))
    step = Step.objects.get(application=app)
    assert (step.kind, step.started_on, step.working_days, step.due_on) == ("completeness", DAY, 5, dt.date(2026, 3, 9))
    _refused(
        lambda: services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY)),
        "already_submitted",
        "status",
    )
    _refused(
        lambda: services.attachment_add(
            actor=w.actors["admin"], application_id=app.id, name="x.pdf", sha256="b" * 64, size=5
        ),
        "not_editable",
        "status",
    )


# ---- who acts on steps ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "county", "prefecture", "liaison", "other"])
def test_only_the_province_acts_on_steps(w: W, who: str) -> None:
    app = draft(w, today=DAY)
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY))
    with pytest.raises(PermissionDenied):
        services.step_act(actor=w.actors[who], application_id=app.id, action="accept", now=at(DAY))
    assert Step.objects.get(application=app).outcome == ""


def test_steps_in_order_with_their_timers_and_actors(w: W) -> None:
    app = draft(w, today=DAY)
    p = w.actors["province"]
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY))
    _refused(lambda: services.step_act(actor=p, application_id=app.id, action="agree", now=at(DAY)), "wrong_step")
    _refused(
        lambda: services.step_act(actor=p, application_id=app.id, action="return", now=at(DAY)),
        "reason_required",
        "comment",
    )
    services.step_act(actor=p, application_id=app.id, action="accept", now=at(dt.date(2026, 3, 4)))
    services.step_act(actor=p, application_id=app.id, action="agree", now=at(dt.date(2026, 3, 5)))
    _refused(
        lambda: services.application_decide(actor=p, application_id=app.id, approve=True, now=at(DAY)), "wrong_step"
    )
    services.reply_record(
        actor=p,
        application_id=app.id,
        decision="agree",
        responded_at=at(dt.date(2026, 3, 16)),
        now=at(dt.date(2026, 3, 17)),
    )
    rows = [(s.kind, s.started_on, s.due_on, s.outcome, s.actor_label) for s in Step.objects.filter(application=app)]
    assert rows == [
        ("completeness", DAY, dt.date(2026, 3, 9), "accepted", "province"),
        ("preliminary", dt.date(2026, 3, 4), dt.date(2026, 3, 11), "agreed", "province"),
        ("receiving", dt.date(2026, 3, 5), dt.date(2026, 3, 19), "agreed", "province"),
        ("decision", dt.date(2026, 3, 16), dt.date(2026, 3, 23), "", ""),
    ]
    assert Application.objects.get(id=app.id).status == "replied"


def test_preliminary_disagreement_needs_reasons_and_ends_the_application(w: W) -> None:
    app = draft(w, today=DAY)
    p = w.actors["province"]
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY))
    services.step_act(actor=p, application_id=app.id, action="accept", now=at(DAY))
    _refused(
        lambda: services.step_act(actor=p, application_id=app.id, action="disagree", now=at(DAY)),
        "reason_required",
        "comment",
    )
    services.step_act(actor=p, application_id=app.id, action="disagree", comment="管理计划未列明该去向", now=at(DAY))
    app.refresh_from_db()
    assert (app.status, app.outcome_comment) == ("refused", "管理计划未列明该去向")
    assert not Step.objects.filter(application=app, outcome="").exists()


def test_returned_application_takes_attachments_and_is_resubmitted(w: W) -> None:
    app = draft(w, today=DAY)
    p = w.actors["province"]
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY))
    services.step_act(actor=p, application_id=app.id, action="return", comment="缺少委托合同", now=at(DAY))
    services.attachment_add(
        actor=w.actors["admin"], application_id=app.id, name="合同.pdf", sha256="c" * 64, size=2048, kind="contract"
    )
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(dt.date(2026, 3, 3)))
    assert [(s.kind, s.outcome) for s in Step.objects.filter(application=app)] == [
        ("completeness", "returned"),
        ("completeness", ""),
    ]


def test_receiving_disagreement_allows_only_a_refusal(w: W) -> None:
    app = draft(w, today=DAY)
    p = w.actors["province"]
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY))
    services.step_act(actor=p, application_id=app.id, action="accept", now=at(DAY))
    services.step_act(actor=p, application_id=app.id, action="agree", now=at(DAY))
    _refused(
        lambda: services.reply_record(actor=p, application_id=app.id, decision="disagree", now=at(DAY)),
        "reason_required",
        "comment",
    )
    services.reply_record(actor=p, application_id=app.id, decision="disagree", comment="处置能力不足", now=at(DAY))
    _refused(
        lambda: services.application_decide(actor=p, application_id=app.id, approve=True, now=at(DAY)),
        "receiving_disagreed",
        "approve",
    )
    services.application_decide(actor=p, application_id=app.id, approve=False, comment="接受地不同意", now=at(DAY))
    assert Application.objects.get(id=app.id).status == "refused"


def test_consignor_withdraws_before_the_decision_only(w: W) -> None:
    app = to_decision(w, DAY)
    _refused(lambda: services.application_withdraw(actor=w.actors["reader"], application_id=app.id), "forbidden")
    services.application_withdraw(actor=w.actors["admin"], application_id=app.id, reason="改为省内处置", now=at(DAY))
    app.refresh_from_db()
    assert app.status == "withdrawn"
    assert Step.objects.filter(application=app).last().outcome == "withdrawn"  # type: ignore[union-attr]
    decided = to_decision(w, DAY)
    services.application_decide(actor=w.actors["province"], application_id=decided.id, approve=True, now=at(DAY))
    _refused(
        lambda: services.application_withdraw(actor=w.actors["admin"], application_id=decided.id),
        "not_withdrawable",
        "status",
    )


# ---- deadlines ---------------------------------------------------------------------------------------


def test_deemed_accepted_exactly_after_five_working_days_across_national_day(w: W) -> None:
    """Received Wed 2026-09-30; 10-01..10-07 are holidays, Sat 10-10 a make-up working day, so
    the 5 working days are 10-08, 10-09, 10-10, 10-12, 10-13."""
    received = dt.date(2026, 9, 30)
    app = draft(w, today=received)
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(received, 16))
    step = Step.objects.get(application=app)
    assert step.due_on == dt.date(2026, 10, 13)
    last_minute = dt.datetime(2026, 10, 13, 23, 59, tzinfo=at(received).tzinfo)
    assert services.approvals_sweep(last_minute) == {"deemed": 0, "findings": 0}
    assert Step.objects.get(id=step.id).outcome == ""
    next_day = dt.datetime(2026, 10, 14, 0, 1, tzinfo=at(received).tzinfo)
    assert services.approvals_sweep(next_day) == {"deemed": 1, "findings": 1}
    steps = list(Step.objects.filter(application=app))
    assert [(s.kind, s.outcome, s.actor_label) for s in steps] == [
        ("completeness", "deemed_accepted", "系统"),
        ("preliminary", "", ""),
    ]
    # accepted from the day of receipt (第二十三条): the preliminary review's 5 days ran from then too
    assert (steps[1].started_on, steps[1].due_on) == (received, dt.date(2026, 10, 13))
    assert Application.objects.get(id=app.id).status == "reviewing"
    assert Event.objects.filter(kind="approval.step.deemed_accepted").count() == 1
    # idempotent: the completeness finding is not raised twice; the overdue preliminary gets its own
    assert services.approvals_sweep(next_day) == {"deemed": 0, "findings": 1}
    assert services.approvals_sweep(next_day) == {"deemed": 0, "findings": 0}
    assert ApprovalFinding.objects.count() == 2


def test_sweep_is_system_only_and_flags_an_unanswered_receiving_province(w: W) -> None:
    with pytest.raises(PermissionDenied):
        services.approvals_sweep(at(DAY), actor=w.actors["province"])
    app = draft(w, today=DAY)
    p = w.actors["province"]
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY))
    services.step_act(actor=p, application_id=app.id, action="accept", now=at(DAY))
    services.step_act(actor=p, application_id=app.id, action="agree", now=at(DAY))
    due = Step.objects.get(application=app, outcome="").due_on
    assert due == dt.date(2026, 3, 16)  # 10 working days
    assert services.approvals_sweep(at(due, 23)) == {"deemed": 0, "findings": 0}
    assert services.approvals_sweep(at(due + dt.timedelta(days=1), 8)) == {"deemed": 0, "findings": 1}
    finding = ApprovalFinding.objects.get()
    assert "接受地省份复函" in finding.message and "第二十五条" in finding.message
    assert Step.objects.get(application=app, outcome="").kind == "receiving"  # silence is no consent


# ---- the decision and its validity ------------------------------------------------------------------


def test_validity_is_the_minimum_of_the_three_limits() -> None:
    d = dt.date(2026, 3, 2)
    far = dt.date(2030, 1, 1)
    assert rules.validity(decided_on=d, period_from=d, period_to=far, licence_valid_to=far) == (
        d,
        dt.date(2027, 3, 1),
    )  # 12 months
    assert rules.validity(decided_on=d, period_from=d, period_to=dt.date(2026, 9, 30), licence_valid_to=far) == (
        d,
        dt.date(2026, 9, 30),
    )  # the requested period
    assert rules.validity(decided_on=d, period_from=d, period_to=far, licence_valid_to=dt.date(2026, 6, 30)) == (
        d,
        dt.date(2026, 6, 30),
    )  # the receiver's licence
    assert rules.validity(decided_on=d, period_from=dt.date(2026, 4, 1), period_to=far, licence_valid_to=far) == (
        dt.date(2026, 4, 1),
        dt.date(2027, 3, 1),
    )
    assert rules.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)


@pytest.mark.parametrize(
    ("kwargs", "valid_to"),
    [
        ({}, dt.date(2027, 3, 1)),
        ({"period_to": dt.date(2026, 12, 31)}, dt.date(2026, 12, 31)),
        ({"licence_to": dt.date(2026, 8, 31)}, dt.date(2026, 8, 31)),
    ],
)
def test_approval_takes_the_validity_and_tonnes(w: W, kwargs: dict, valid_to: dt.date) -> None:
    app = to_decision(w, DAY, **kwargs)
    services.application_decide(
        actor=w.actors["province"], application_id=app.id, approve=True, tonnes={CODE: Decimal(8)}, now=at(DAY, 15)
    )
    approval = Application.objects.get(id=app.id).approval
    assert (approval.decided_on, approval.valid_from, approval.valid_to) == (DAY, DAY, valid_to)
    assert approval.number == f"吉跨转审2026{approval.id:06d}"
    assert dict(approval.lines.values_list("waste_code", "approved_tonnes")) == {
        CODE: Decimal(8),
        CODE2: Decimal("2.5"),
    }
    assert Event.objects.filter(kind="approval.approved").count() == 1


def test_decision_refused_when_validity_would_be_empty_and_nothing_written(w: W) -> None:
    app = to_decision(w, DAY, licence_to=dt.date(2026, 3, 3))
    later = dt.date(2026, 3, 4)  # the licence ended yesterday
    _refused(
        lambda: services.application_decide(
            actor=w.actors["province"], application_id=app.id, approve=True, now=at(later)
        ),
        "validity_empty",
        "approve",
    )
    assert not ApprovalLine.objects.exists()
    assert Step.objects.get(application=app, outcome="").kind == "decision"


def test_approved_tonnes_cannot_exceed_the_applied(w: W) -> None:
    app = to_decision(w, DAY)
    _refused(
        lambda: services.application_decide(
            actor=w.actors["province"], application_id=app.id, approve=True, tonnes={CODE: Decimal(11)}, now=at(DAY)
        ),
        "approved_exceeds_applied",
        f"tonnes.{CODE}",
    )
    assert not hasattr(Application.objects.get(id=app.id), "approval_cache") and not ApprovalLine.objects.exists()


# ---- consumption --------------------------------------------------------------------------------------


def _approved(w: W, **kwargs) -> int:  # type: ignore[no-untyped-def]
    app = to_decision(w, DAY, **kwargs)
    services.application_decide(actor=w.actors["province"], application_id=app.id, approve=True, now=at(DAY))
    return Application.objects.get(id=app.id).approval.id


def test_consumption_to_exhaustion_then_refused_and_release_gives_back(w: W) -> None:
    approval_id = _approved(w)
    consume = services.approval_consume
    for i, t in enumerate(["4", "6"]):
        consume(
            actor=w.actors["admin"],
            approval_id=approval_id,
            waste_code=CODE,
            tonnes=Decimal(t),
            manifest_number=f"2026220100000{i}",
            on=DAY,
        )
    assert ApprovalLine.objects.get(waste_code=CODE).consumed_tonnes == Decimal(10)
    err = _refused(
        lambda: consume(
            actor=SYSTEM,
            approval_id=approval_id,
            waste_code=CODE,
            tonnes=Decimal("0.001"),
            manifest_number="20262201000009",
            on=DAY,
        ),
        "approved_quantity_exceeded",
        "tonnes",
    )
    assert "剩余 0 吨" in err.message
    _refused(
        lambda: consume(
            actor=SYSTEM,
            approval_id=approval_id,
            waste_code="900-041-49",
            tonnes=Decimal(3),
            manifest_number="20262201000009",
            on=DAY,
        ),
        "approved_quantity_exceeded",
    )
    _refused(
        lambda: consume(
            actor=SYSTEM,
            approval_id=approval_id,
            waste_code="772-002-18",
            tonnes=Decimal(1),
            manifest_number="20262201000009",
            on=DAY,
        ),
        "code_not_approved",
        "waste_code",
    )
    _refused(
        lambda: consume(
            actor=w.actors["other"],
            approval_id=approval_id,
            waste_code=CODE,
            tonnes=Decimal(1),
            manifest_number="20262201000009",
            on=DAY,
        ),
        "forbidden",
    )
    services.approval_release(actor=SYSTEM, approval_id=approval_id, waste_code=CODE, manifest_number="20262201000000")
    assert ApprovalLine.objects.get(waste_code=CODE).consumed_tonnes == Decimal(6)
    consume(
        actor=SYSTEM,
        approval_id=approval_id,
        waste_code=CODE,
        tonnes=Decimal(4),
        manifest_number="20262201000000",
        on=DAY,
    )
    _refused(
        lambda: services.approval_release(
            actor=SYSTEM, approval_id=approval_id, waste_code=CODE, manifest_number="nope"
        ),
        "not_consumed",
    )
    assert Consumption.objects.filter(released_at__isnull=True).count() == 2
    assert Event.objects.filter(kind="approval.consumed").count() == 3
    assert Event.objects.filter(kind="approval.released").count() == 1


def test_consumption_refused_outside_validity(w: W) -> None:
    approval_id = _approved(w, period_to=dt.date(2026, 6, 30))
    for day in (DAY - dt.timedelta(days=1), dt.date(2026, 7, 1)):
        _refused(
            lambda day=day: services.approval_consume(
                actor=SYSTEM, approval_id=approval_id, waste_code=CODE, tonnes=Decimal(1), manifest_number="x1", on=day
            ),
            "outside_validity",
            "on",
        )
    services.approval_consume(
        actor=SYSTEM,
        approval_id=approval_id,
        waste_code=CODE,
        tonnes=Decimal(1),
        manifest_number="x1",
        on=dt.date(2026, 6, 30),
    )
    _refused(
        lambda: services.approval_consume(
            actor=SYSTEM, approval_id=approval_id, waste_code=CODE, tonnes=Decimal(1), manifest_number="x1", on=DAY
        ),
        "already_consumed",
        "manifest_number",
    )
    with pytest.raises(NotFound):
        services.approval_consume(
            actor=SYSTEM, approval_id=999999, waste_code=CODE, tonnes=Decimal(1), manifest_number="x", on=DAY
        )


# ---- whitelist ----------------------------------------------------------------------------------------


def test_whitelist_is_kept_by_the_province_and_gives_the_simplified_path(w: W) -> None:
    with pytest.raises(PermissionDenied):
        services.whitelist_add(
            actor=w.actors["prefecture"],
            enterprise_id=w.own.id,
            basis="信用A级",
            valid_from=DAY,
            valid_to=dt.date(2026, 12, 31),
        )
    with pytest.raises(PermissionDenied):
        services.whitelist_add(
            actor=w.actors["liaison"],
            enterprise_id=w.own.id,
            basis="信用A级",
            valid_from=DAY,
            valid_to=dt.date(2026, 12, 31),
        )
    entry = services.whitelist_add(
        actor=w.actors["province"],
        enterprise_id=w.own.id,
        basis="环境信用A级，风险等级低",
        valid_from=DAY,
        valid_to=dt.date(2026, 12, 31),
    )
    _refused(
        lambda: services.whitelist_add(
            actor=w.actors["province"],
            enterprise_id=w.own.id,
            basis="重复",
            valid_from=DAY,
            valid_to=dt.date(2026, 6, 1),
        ),
        "already_whitelisted",
    )
    app = draft(w, today=DAY)
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY))
    app.refresh_from_db()
    step = Step.objects.get(application=app)
    assert (app.procedure, step.kind, step.working_days, step.due_on) == (
        "simplified",
        "simplified",
        3,
        dt.date(2026, 3, 5),
    )
    services.step_act(actor=w.actors["province"], application_id=app.id, action="agree", now=at(DAY))
    assert [s.kind for s in Step.objects.filter(application=app)] == ["simplified", "receiving"]
    # revoked: the next application takes the standard path
    services.whitelist_revoke(actor=w.actors["province"], entry_id=entry.id, reason="发生违法行为", now=at(DAY))
    second = draft(w, today=DAY)
    services.application_submit(actor=w.actors["admin"], application_id=second.id, now=at(DAY))
    assert Step.objects.get(application=second).kind == "completeness"
    assert WhitelistEntry.objects.get().revoked_reason == "发生违法行为"


def test_simplified_step_silent_is_deemed_accepted_into_the_standard_review(w: W) -> None:
    services.whitelist_add(
        actor=w.actors["province"],
        enterprise_id=w.own.id,
        basis="信用A级",
        valid_from=DAY,
        valid_to=dt.date(2026, 12, 31),
    )
    app = draft(w, today=DAY)
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY))
    assert services.approvals_sweep(at(dt.date(2026, 3, 6), 1))["deemed"] == 1
    assert [(s.kind, s.outcome) for s in Step.objects.filter(application=app)] == [
        ("simplified", "deemed_accepted"),
        ("preliminary", ""),
    ]


def test_usable_approvals_for_a_manifest(w: W) -> None:
    from weifei.approvals.selectors import approvals_usable

    approval_id = _approved(w, period_to=dt.date(2026, 6, 30))
    kwargs = {"consignor_id": w.own.id, "receiver_credit_code": RECEIVER_CREDIT, "waste_code": CODE}
    assert [a.id for a in approvals_usable(actor=w.actors["reader"], on=DAY, **kwargs)] == [approval_id]
    assert not approvals_usable(actor=w.actors["other"], on=DAY, **kwargs).exists()
    assert not approvals_usable(actor=w.actors["admin"], on=dt.date(2026, 7, 1), **kwargs).exists()
    services.approval_consume(
        actor=SYSTEM, approval_id=approval_id, waste_code=CODE, tonnes=Decimal(10), manifest_number="m1", on=DAY
    )
    assert not approvals_usable(actor=w.actors["admin"], on=DAY, **kwargs).exists()
