"""委托申报 (HJ 1259 7.1.3): an agent declares for a unit only under a mandate active that day —
licensed operators at once, third parties once a regulator over the unit's region approves;
pending, revoked, expired mandates and mandates of another unit are refused."""

from __future__ import annotations

import datetime as dt

import pytest

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create
from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.core.models import Event
from weifei.plans import declarations as decl
from weifei.plans.models import Declaration, DeclarationMandate
from weifei.plans.tests import test_declarations as td
from weifei.plans.tests import test_ledger as tl
from weifei.plans.tests.test_declarations import MARCH
from weifei.plans.tests.test_ledger import PASSWORD, W
from weifei.registry import services as registry
from weifei.registry.models import Enterprise, Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
w = tl.w
site = td.site  # the declaration tests' 重点 site with its small ledger, now = 10 April 2026
M = Declaration.Kind.MONTHLY
Y2026 = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def _user(enterprise: Enterprise, username: str, role: str = "admin") -> Actor:
    user = enterprise_user_create(actor=SYSTEM, enterprise=enterprise, username=username, password=PASSWORD,
                                  full_name=username, role=role).user  # fmt: skip
    return actor_for(user)


@pytest.fixture
def third(w: W) -> Enterprise:
    return registry.enterprise_create(actor=SYSTEM, credit_code="91110000802100433B", name="申报服务第三方有限公司",
                                      region_key="220102", roles=("is_generator",))  # fmt: skip


def _mandate(w: W, agent: Enterprise, basis: str, period: tuple[dt.date, dt.date] = Y2026) -> DeclarationMandate:
    return decl.mandate_create(actor=w.actors["admin"], unit_id=w.own.id, agent_id=agent.id, basis=basis,
                               valid_from=period[0], valid_to=period[1])  # fmt: skip


def _refused(exc_type: type[ApplicationError], fn: object, field: str | None = None, **kw: object) -> ApplicationError:
    before = (Declaration.objects.count(), Event.objects.count(), DeclarationMandate.objects.count())
    with pytest.raises(exc_type) as exc:
        fn(**kw)  # type: ignore[operator]
    if field is not None:
        assert exc.value.field == field, exc.value.message
    assert (Declaration.objects.count(), Event.objects.count(), DeclarationMandate.objects.count()) == before
    return exc.value


def test_licensed_agent_declares_for_the_unit(w: W, site: Site) -> None:
    agent = _user(w.operator, "agent_admin")
    agent_member = _user(w.operator, "agent_member", "member")
    agent_reader = _user(w.operator, "agent_reader", "reader")
    # Without a mandate: refused.
    _refused(PermissionDenied, decl.declaration_generate, actor=agent, site_id=site.id, kind=M, period_start=MARCH)
    m = _mandate(w, w.operator, "licensed")
    assert (m.status, m.basis) == ("active", "licensed") and m.approved_at is not None
    assert Event.objects.filter(kind="mandate.created", organisation_id=w.own.id).count() == 1
    assert Event.objects.filter(kind="mandate.created", organisation_id=w.operator.id).count() == 1
    # The agent now sees the unit's site and declarations.
    assert decl.declarable_site_get(actor=agent, site_id=site.id) == site
    d = decl.declaration_generate(actor=agent_member, site_id=site.id, kind=M, period_start=MARCH)
    assert d.declared_by_enterprise_id == w.operator.id
    _refused(PermissionDenied, decl.declaration_submit, actor=agent_reader, declaration_id=d.id)
    d = decl.declaration_submit(actor=agent, declaration_id=d.id)
    assert (d.status, d.declared_by_enterprise_id, d.submitted_by_id) == ("submitted", w.operator.id, agent.user_id)
    assert decl.declaration_get(actor=agent, declaration_id=d.id) == d
    # Recorded on the unit's stream and on the agent's.
    for org in (w.own.id, w.operator.id):
        assert Event.objects.filter(kind="declaration.submitted", organisation_id=org, subject_id=str(d.id)).exists()
        assert Event.objects.filter(kind="declaration.generated", organisation_id=org, subject_id=str(d.id)).exists()
    ev = Event.objects.get(kind="declaration.submitted", organisation_id=w.operator.id)
    assert ev.after["for_unit"] == w.own.id and ev.after["declared_by_enterprise"] == w.operator.id
    # The unit itself declaring leaves declared_by_enterprise empty.
    feb = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=dt.date(2026, 2, 1))
    assert feb.declared_by_enterprise_id is None


def test_third_party_needs_a_regulators_approval(w: W, site: Site, third: Enterprise) -> None:
    agent = _user(third, "third_admin")
    # Basis "licensed" needs a licence valid today.
    e = _refused(ApplicationError, _mandate, "agent_id", w=w, agent=third, basis="licensed")
    assert e.code == "agent_not_licensed"
    m = _mandate(w, third, "approved")
    assert m.status == "pending"
    _refused(PermissionDenied, decl.declaration_generate, actor=agent, site_id=site.id, kind=M, period_start=MARCH)
    # Only a (writing) regulator over the unit's region approves.
    for who in ("admin", "member", "other"):
        _refused(PermissionDenied, decl.mandate_approve, actor=w.actors[who], mandate_id=m.id)
    _refused(PermissionDenied, decl.mandate_approve, actor=agent, mandate_id=m.id)
    m = decl.mandate_approve(actor=w.actors["county"], mandate_id=m.id)
    assert (m.status, m.approved_by_id) == ("active", w.actors["county"].user_id)
    assert Event.objects.filter(kind="mandate.approved", organisation_id=w.own.id).exists()
    _refused(ApplicationError, decl.mandate_approve, "status", actor=w.actors["county"], mandate_id=m.id)
    d = decl.declaration_generate(actor=agent, site_id=site.id, kind=M, period_start=MARCH)
    assert d.declared_by_enterprise_id == third.id
    # Revoked: refused again (by the unit's admin; the regulator may too).
    decl.mandate_revoke(actor=w.actors["admin"], mandate_id=m.id, reason="合同到期")
    _refused(PermissionDenied, decl.declaration_submit, actor=agent, declaration_id=d.id)
    _refused(ApplicationError, decl.mandate_revoke, "status", actor=w.actors["county"], mandate_id=m.id)
    assert Event.objects.get(kind="mandate.revoked", organisation_id=w.own.id).reason == "合同到期"
    # It still sees what it declared itself, but no other declaration of the unit.
    assert decl.declaration_get(actor=agent, declaration_id=d.id) == d
    feb = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=dt.date(2026, 2, 1))
    assert not decl.declarations_visible(actor=agent).filter(id=feb.id).exists()


def test_expired_and_other_units_mandates_are_refused(w: W, site: Site, third: Enterprise) -> None:
    agent = _user(w.operator, "agent_admin")
    # A mandate of January–February only: on 10 April (the fixture's now) it has expired.
    m = decl.mandate_create(actor=SYSTEM, unit_id=w.own.id, agent_id=w.operator.id, basis="licensed",
                            valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2026, 12, 31))  # fmt: skip
    DeclarationMandate.objects.filter(id=m.id).update(valid_to=dt.date(2026, 2, 28))
    _refused(PermissionDenied, decl.declaration_generate, actor=agent, site_id=site.id, kind=M, period_start=MARCH)
    # A mandate from another unit gives nothing over this unit.
    decl.mandate_create(actor=w.actors["other"], unit_id=w.other.id, agent_id=w.operator.id, basis="licensed",
                        valid_from=Y2026[0], valid_to=Y2026[1])  # fmt: skip
    _refused(PermissionDenied, decl.declaration_generate, actor=agent, site_id=site.id, kind=M, period_start=MARCH)
    # Starting later than today: not yet active.
    DeclarationMandate.objects.filter(id=m.id).update(valid_from=dt.date(2026, 5, 1), valid_to=dt.date(2026, 12, 31))
    _refused(PermissionDenied, decl.declaration_generate, actor=agent, site_id=site.id, kind=M, period_start=MARCH)
    # A licensed-basis mandate stops working when the agent's licence is revoked.
    DeclarationMandate.objects.filter(id=m.id).update(valid_from=dt.date(2026, 1, 1))
    assert decl.declaration_generate(actor=agent, site_id=site.id, kind=M, period_start=MARCH)
    w.operator.licences.update(status="revoked")
    _refused(PermissionDenied, decl.declaration_generate, actor=agent, site_id=site.id, kind=M, period_start=MARCH)


def test_mandate_create_refusals(w: W, site: Site, third: Enterprise) -> None:
    for who in ("member", "reader", "other", "county"):
        _refused(PermissionDenied, decl.mandate_create, actor=w.actors[who], unit_id=w.own.id, agent_id=third.id,
                 basis="approved", valid_from=Y2026[0], valid_to=Y2026[1])  # fmt: skip
    admin = w.actors["admin"]
    for kw, field, code in (
        ({"basis": "friend"}, "basis", "basis_invalid"),
        ({"agent_id": w.own.id}, "agent_id", "agent_is_unit"),
        ({"valid_to": dt.date(2025, 12, 31)}, "valid_to", "period_invalid"),
        ({"valid_from": dt.date(2025, 1, 1), "valid_to": dt.date(2026, 3, 31)}, "valid_to", "period_past"),
        ({"valid_to": dt.date(2032, 1, 1)}, "valid_to", "period_too_long"),
    ):
        args = {"actor": admin, "unit_id": w.own.id, "agent_id": third.id, "basis": "approved",
                "valid_from": Y2026[0], "valid_to": Y2026[1]} | kw  # fmt: skip
        assert _refused(ApplicationError, decl.mandate_create, field, **args).code == code
    _mandate(w, third, "approved")
    e = _refused(ApplicationError, _mandate, "agent_id", w=w, agent=third, basis="approved")
    assert e.code == "mandate_exists"


def test_mandates_visibility(w: W, site: Site, third: Enterprise) -> None:
    m = _mandate(w, third, "approved")
    agent = _user(third, "third_admin")
    for actor, seen in ((w.actors["reader"], True), (agent, True), (w.actors["county"], True),
                        (w.actors["other"], False)):  # fmt: skip
        assert decl.mandates_visible(actor=actor).filter(id=m.id).exists() is seen
