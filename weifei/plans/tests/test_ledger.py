"""管理台账: the chain 产生 → 入库 → 出库 → 自行/委外 (rule 14), quantities never above what a batch
still has, 委外 receivers (rule 15), unit conversion (rule 10), reversals, stock and the
declaration invariant (rule 12), events — and nothing half-written on a refusal."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.models import Event
from weifei.plans import ledger
from weifei.plans.models import LedgerCounter, LedgerEntry
from weifei.registry import services as registry
from weifei.registry.models import Enterprise, Facility, Site

pytestmark = pytest.mark.usefixtures("reference")
SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "ledger-Pa55word!"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=SH)
CODE = "900-249-08"
CODE2 = "900-041-49"


class W:
    own: Enterprise
    other: Enterprise
    operator: Enterprise
    site: Site
    other_site: Site
    gen: Facility
    store: Facility
    disp: Facility
    actors: dict[str, Actor]


@pytest.fixture
def w() -> W:
    w = W()
    w.own = registry.enterprise_create(actor=SYSTEM, credit_code="91350100M000100Y43", name="台账测试有限公司",
                                       region_key="220102", roles=("is_generator",))  # fmt: skip
    w.other = registry.enterprise_create(actor=SYSTEM, credit_code="91130200699229617X", name="他单位台账测试有限公司",
                                         region_key="220202", roles=("is_generator",))  # fmt: skip
    w.operator = registry.enterprise_create(actor=SYSTEM, credit_code="911302307808371268", name="台账处置有限公司",
                                            region_key="220102", roles=("is_operator",))  # fmt: skip
    registry.licence_create(actor=SYSTEM, holder=w.operator, number="吉危许台账01", kind="comprehensive",
                            methods=["disposal"], annual_capacity_tonnes=Decimal(1000), valid_from=dt.date(2025, 1, 1),
                            categories=["HW08"])  # fmt: skip
    w.site = registry.site_create(actor=SYSTEM, enterprise=w.own, name="一厂", address="南关区台账路1号",
                                  region_key="220102", roles=["generator"])  # fmt: skip
    w.other_site = registry.site_create(actor=SYSTEM, enterprise=w.other, name="他厂", address="吉林市台账路1号",
                                        region_key="220202", roles=["generator"])  # fmt: skip
    w.gen = registry.facility_create(actor=SYSTEM, site=w.site, kind="generating", name="机加工线")
    w.store = registry.facility_create(actor=SYSTEM, site=w.site, kind="storage", name="贮存库",
                                       storage_capacity_tonnes=Decimal(20))  # fmt: skip
    w.disp = registry.facility_create(actor=SYSTEM, site=w.site, kind="disposal", name="焚烧炉",
                                      design_capacity_tonnes=Decimal(100))  # fmt: skip
    w.actors = {}
    for role in ("admin", "member", "driver", "reader"):
        user = enterprise_user_create(actor=SYSTEM, enterprise=w.own, username=f"l_{role}", password=PASSWORD,
                                      full_name=role, role=role).user  # fmt: skip
        w.actors[role] = actor_for(user)
    other_user = enterprise_user_create(actor=SYSTEM, enterprise=w.other, username="l_other", password=PASSWORD,
                                        full_name="他", role="admin").user  # fmt: skip
    w.actors["other"] = actor_for(other_user)
    user = regulator_account_create(actor=SYSTEM, username="l_county", password=PASSWORD, full_name="县",
                                    region_key="220102", department="测试", role="regulator").user  # fmt: skip
    w.actors["county"] = actor_for(user)
    return w


def _gen(w: W, qty: str = "2", at: dt.datetime = T0, **kw: Any) -> LedgerEntry:
    args: dict[str, Any] = {"waste_code": CODE, "quantity": Decimal(qty), "unit": "t", "facility_id": w.gen.id}
    return ledger.ledger_generate(actor=w.actors["admin"], site_id=w.site.id, occurred_at=at, **(args | kw))


def _in(w: W, src: LedgerEntry, tonnes: str, at: dt.datetime | None = None) -> LedgerEntry:
    return ledger.ledger_store_in(actor=w.actors["member"], site_id=w.site.id, source_id=src.id,
                                  occurred_at=at or src.occurred_at, quantity=Decimal(tonnes),
                                  facility_id=w.store.id)  # fmt: skip


def _out(w: W, src: LedgerEntry, tonnes: str, at: dt.datetime | None = None) -> LedgerEntry:
    return ledger.ledger_store_out(actor=w.actors["member"], site_id=w.site.id, source_id=src.id,
                                   occurred_at=at or src.occurred_at, quantity=Decimal(tonnes))  # fmt: skip


def _self(w: W, src: LedgerEntry, tonnes: str, at: dt.datetime | None = None) -> LedgerEntry:
    return ledger.ledger_self_treat(actor=w.actors["member"], site_id=w.site.id, source_id=src.id,
                                    occurred_at=at or src.occurred_at, quantity=Decimal(tonnes), method_code="D10",
                                    facility_id=w.disp.id)  # fmt: skip


def _send(w: W, src: LedgerEntry, tonnes: str, at: dt.datetime | None = None, **kw: Any) -> LedgerEntry:
    args: dict[str, Any] = {"receiver_type": "licensed", "receiver_id": w.operator.id,
                            "licence_number": "吉危许台账01", "method_code": "D10"}  # fmt: skip
    return ledger.ledger_send_out(actor=w.actors["member"], site_id=w.site.id, source_id=src.id,
                                  occurred_at=at or src.occurred_at, quantity=Decimal(tonnes),
                                  **(args | kw))  # fmt: skip


def _refused(field: str, fn: Any, *a: Any, **kw: Any) -> ApplicationError:
    before = (LedgerEntry.objects.count(), Event.objects.count(), list(LedgerCounter.objects.values()))
    with pytest.raises(ApplicationError) as exc:
        fn(*a, **kw)
    assert exc.value.field == field, exc.value.message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message)
    # Nothing partial: no entry, no event, no counter moved.
    assert (LedgerEntry.objects.count(), Event.objects.count(), list(LedgerCounter.objects.values())) == before
    return exc.value


# ------------------------------------------------------------------ pure rules


def test_unit_conversion() -> None:
    assert ledger.to_tonnes(Decimal("2.5"), "t") == (Decimal("2.500000"), None)
    assert ledger.to_tonnes(Decimal(1500), "kg") == (Decimal("1.500000"), None)
    assert ledger.to_tonnes(Decimal(200), "L", density=Decimal("0.9")) == (Decimal("0.180000"), Decimal("0.9"))
    assert ledger.to_tonnes(Decimal(2), "m3", density=Decimal("1.2")) == (Decimal("2.400000"), Decimal("1.2"))
    assert ledger.to_tonnes(Decimal(3), "piece", tonnes=Decimal("0.6")) == (Decimal("0.600000"), None)
    for args, kw, field in (
        ((Decimal(200), "L"), {}, "density"),
        ((Decimal(2), "m3"), {"density": Decimal(0)}, "density"),
        ((Decimal(3), "piece"), {}, "tonnes"),
        ((Decimal(0), "t"), {}, "quantity"),
        ((Decimal(-1), "kg"), {}, "quantity"),
        ((Decimal("0.0000001"), "kg"), {}, "quantity"),
        ((Decimal(1), "bag"), {}, "unit"),
        ((Decimal(10**6), "t"), {}, "quantity"),
    ):
        with pytest.raises(ApplicationError) as exc:
            ledger.to_tonnes(*args, **kw)
        assert exc.value.field == field


def test_batch_codes() -> None:
    assert ledger.batch_code("HWCS", dt.date(2021, 10, 31), 1) == "HWCS20211031001"
    with pytest.raises(ApplicationError):
        ledger.batch_code("HWCS", dt.date(2021, 10, 31), 1000)


# ------------------------------------------------------------------ the chain


def test_full_chain_codes_remaining_and_stock(w: W) -> None:
    g = _gen(w, "5", container_code="LBL-0001", container_type="桶")
    assert g.batch_code == "HWCS20260301001" and g.category == "HW08" and g.quantity_tonnes == Decimal(5)
    assert _gen(w, "1").batch_code == "HWCS20260301002"
    i = _in(w, g, "4", T0 + dt.timedelta(hours=1))
    assert i.batch_code == "HWRK20260301001" and i.source_id == g.id and i.container_code == "LBL-0001"
    o = _out(w, i, "3", T0 + dt.timedelta(days=1))
    assert o.batch_code == "HWCK20260302001"
    s = _self(w, o, "1")
    assert s.batch_code.startswith("HWZXCZ") and s.method_code == "D10"
    x = _send(w, o, "2")
    assert x.batch_code.startswith("HWWWCZ") and x.licence_number == "吉危许台账01" and x.receiver_name
    d = _send(w, g, "1")  # 委外 directly from a 产生 batch
    assert ledger.batch_remaining(g) == Decimal(0)  # 5 − 4 stored − 1 sent
    assert ledger.batch_remaining(i) == Decimal(1)
    assert ledger.batch_remaining(o) == Decimal(0)
    (row,) = ledger.site_stock(actor=w.actors["reader"], site_id=w.site.id)
    assert row == {"waste_code": CODE, "generated": Decimal(6), "received": Decimal(0), "stored_in": Decimal(4),
                   "stored_out": Decimal(3), "self_treated": Decimal(1), "sent_out": Decimal(3),
                   "stock": Decimal(2)}  # fmt: skip
    (before,) = ledger.site_stock(actor=w.actors["county"], site_id=w.site.id, at=T0 + dt.timedelta(hours=2))
    assert before["stock"] == Decimal(5)  # 6 generated, 1 sent (dated T0) by then
    kinds = list(Event.objects.filter(subject_type="plans.ledgerentry").order_by("seq").values_list("kind", flat=True))
    assert kinds == ["ledger.generated", "ledger.generated", "ledger.stored_in", "ledger.stored_out",
                     "ledger.self_treated", "ledger.sent_out", "ledger.sent_out"]  # fmt: skip
    assert Event.objects.filter(subject_id=str(d.id), organisation_id=w.own.id).exists()


def test_chain_refusals(w: W) -> None:
    g = _gen(w, "2")
    i = _in(w, g, "1")
    o = _out(w, i, "1")
    # Rule 14: each kind takes from the right kind only.
    assert "产生" in _refused("source", _in, w, i, "1").message
    assert "入库" in _refused("source", _out, w, g, "1").message
    _refused("source", _self, w, i, "1")
    _refused("source", _send, w, i, "1")
    other = ledger.ledger_generate(actor=w.actors["other"], site_id=w.other_site.id, occurred_at=T0, waste_code=CODE,
                                   quantity=Decimal(1))  # fmt: skip
    _refused("source", _in, w, other, "1")  # another site's batch
    # Over-withdrawal.
    assert "剩余量" in _refused("quantity", _in, w, g, "1.000001").message
    _refused("quantity", _out, w, i, "0.5")  # the 入库 batch is used up
    _refused("quantity", _self, w, o, "2")
    # Time: not in the future, not before the source.
    _refused("occurred_at", _gen, w, "1", at=ledger._now() + dt.timedelta(hours=1))
    _refused("occurred_at", _gen, w, "1", at=dt.datetime(2026, 3, 1, 9, 0))  # naive
    _refused("occurred_at", _self, w, o, "0.5", T0 - dt.timedelta(minutes=1))
    # Waste code valid on the date; category must match; units.
    _refused("waste_code", _gen, w, waste_code="900-249-99")
    _refused("waste_code", _gen, w, waste_code="900-249-08", category="HW49")
    _refused("density", _gen, w, unit="L", quantity=Decimal(100))
    _refused("tonnes", _gen, w, unit="piece", quantity=Decimal(3))
    # Facilities: own site, right kind.
    _refused("facility", _gen, w, facility_id=w.store.id)
    _refused("method_code", ledger.ledger_self_treat, actor=w.actors["admin"], site_id=w.site.id, source_id=o.id,
             occurred_at=T0, quantity=Decimal("0.1"), method_code="Z99")  # fmt: skip


def test_container_one_record_each(w: W) -> None:
    g = _gen(w, "1", container_code="LBL-7")
    assert "容器" in _refused("container_code", _gen, w, "1", container_code="LBL-7").message
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=g.id, reason="录错容器")
    assert _gen(w, "1", container_code="LBL-7").container_code == "LBL-7"  # free again once reversed
    assert _gen(w, "1").container_code is None and _gen(w, "1", container_code="").container_code is None


def test_send_out_receiver_rules(w: W) -> None:
    g = _gen(w, "3")
    _refused("receiver_type", _send, w, g, "1", receiver_type="")
    _refused("licence_number", _send, w, g, "1", licence_number="")
    _refused("licence_number", _send, w, g, "1", licence_number="吉危许不存在")
    _refused("licence_number", _send, w, g, "1", receiver_id=w.other.id)  # not the receiver's licence
    _refused("licence_number", _send, w, g, "1", at=dt.datetime(2024, 6, 1, tzinfo=SH))  # not yet valid
    _refused("receiver", _send, w, g, "1", receiver_id=None)
    hw49 = _gen(w, "1", waste_code=CODE2)
    assert "经营范围" in _refused("licence_number", _send, w, hw49, "1").message
    _refused("licence_number", _send, w, g, "1", receiver_type="exempt", receiver_id=None, receiver_name="某豁免单位",
             licence_number="")  # fmt: skip
    e = _send(
        w, g, "1", receiver_type="exempt", receiver_id=None, receiver_name="某豁免单位", licence_number="豁免清单第8项"
    )
    assert e.receiver_name == "某豁免单位" and e.licence_number == "豁免清单第8项"
    a = _send(w, g, "1", receiver_type="abroad", receiver_id=None, receiver_name="Foreign Ltd", licence_number="EX-1")
    assert a.batch_code.startswith("HWCKCZ")


def test_permissions(w: W) -> None:
    for who in ("driver", "reader", "other", "county"):
        with pytest.raises(PermissionDenied):
            ledger.ledger_generate(actor=w.actors[who], site_id=w.site.id, occurred_at=T0, waste_code=CODE,
                                   quantity=Decimal(1))  # fmt: skip
    g = _gen(w, "1")
    with pytest.raises(PermissionDenied):
        ledger.ledger_reverse(actor=w.actors["reader"], entry_id=g.id, reason="x")
    with pytest.raises(NotFound):
        ledger.site_stock(actor=w.actors["other"], site_id=w.site.id)
    assert ledger.site_stock(actor=SYSTEM, site_id=w.site.id)[0]["stock"] == Decimal(1)
    assert LedgerEntry.objects.count() == 1


def test_unit_entries_stored_in_tonnes(w: W) -> None:
    g = _gen(w, "800", unit="kg")
    assert (g.quantity_tonnes, g.entered_quantity, g.entered_unit) == (Decimal("0.8"), Decimal(800), "kg")
    v = _gen(w, "500", unit="L", density=Decimal("1.1"))
    assert (v.quantity_tonnes, v.conversion_factor) == (Decimal("0.55"), Decimal("1.1"))
    p = _gen(w, "4", unit="piece", tonnes=Decimal("0.2"))
    assert p.quantity_tonnes == Decimal("0.2") and p.entered_quantity == Decimal(4)
    i = ledger.ledger_store_in(actor=w.actors["admin"], site_id=w.site.id, source_id=v.id, occurred_at=T0,
                               quantity=Decimal(250), unit="kg")  # fmt: skip
    assert ledger.batch_remaining(v) == Decimal("0.3") and i.quantity_tonnes == Decimal("0.25")


def test_reversal(w: W) -> None:
    g = _gen(w, "2")
    i = _in(w, g, "2")
    assert "请先冲销" in _refused("entry", ledger.ledger_reverse, actor=w.actors["admin"], entry_id=g.id,
                                  reason="录错").message  # fmt: skip
    _refused("reason", ledger.ledger_reverse, actor=w.actors["admin"], entry_id=i.id, reason=" ")
    r = ledger.ledger_reverse(actor=w.actors["admin"], entry_id=i.id, reason="入库量录错")
    assert r.quantity_tonnes == Decimal(-2) and r.reversal_of_id == i.id and r.source_id == g.id
    assert r.batch_code == i.batch_code + "C" and r.occurred_at == i.occurred_at
    assert ledger.batch_remaining(g) == Decimal(2) and ledger.batch_remaining(i) == Decimal(0)
    _refused("entry", ledger.ledger_reverse, actor=w.actors["admin"], entry_id=i.id, reason="again")
    _refused("entry", ledger.ledger_reverse, actor=w.actors["admin"], entry_id=r.id, reason="again")
    _refused("source", _out, w, r, "1")  # a reversal is no batch to take from
    i2 = _in(w, g, "1.5")
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=i2.id, reason="再错")
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=g.id, reason="产生录错")
    assert ledger.site_stock(actor=SYSTEM, site_id=w.site.id)[0]["stock"] == Decimal(0)
    i.refresh_from_db()
    assert i.quantity_tonnes == Decimal(2)  # history never edited
    assert Event.objects.filter(kind="ledger.reversed").count() == 3


# ------------------------------------------------------------------ property: stock and rule 12

OPS = st.lists(
    st.tuples(
        st.sampled_from(["gen", "in", "out", "self", "send", "reverse"]),
        st.integers(0, 20),  # which entry
        st.sampled_from(["0.5", "1", "1.5", "3", "all"]),  # tonnes ("all": what the batch has left)
        st.integers(0, 10),  # day offset
        st.sampled_from([CODE, CODE2]),
    ),
    min_size=3,
    max_size=14,
)


def _flows(site_id: int, start: dt.datetime | None, end: dt.datetime) -> dict[str, ledger.CodeStock]:
    qs = LedgerEntry.objects.filter(site_id=site_id, occurred_at__lte=end)
    if start is not None:
        qs = qs.filter(occurred_at__gt=start)
    return ledger.stock_from_sums(qs.values_list("waste_code", "kind").annotate(t=Sum("quantity_tonnes")).order_by())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_stock_never_negative_and_declaration_invariant(w: W, ops: list[tuple[str, int, str, int, str]]) -> None:
    with transaction.atomic():
        entries: list[LedgerEntry] = [_gen(w, "2", waste_code=CODE), _gen(w, "3", waste_code=CODE2)]
        for op, idx, tonnes, day, code in ops:
            at = T0 + dt.timedelta(days=day)
            pick = entries[idx % len(entries)]
            try:
                if tonnes == "all":
                    tonnes = str(ledger.batch_remaining(pick) if op != "gen" else 1)
                if op == "gen":
                    entries.append(_gen(w, tonnes, at=at, waste_code=code))
                elif op == "reverse":
                    entries.append(ledger.ledger_reverse(actor=w.actors["admin"], entry_id=pick.id, reason="更正"))
                else:
                    fn = {"in": _in, "out": _out, "self": _self, "send": _send}[op]
                    entries.append(fn(w, pick, tonnes, max(at, pick.occurred_at)))
            except ApplicationError:
                pass
        event(f"entries written: {min(len(entries) - 2, 6)}{'+' if len(entries) >= 8 else ''}")
        times = [*sorted({e.occurred_at for e in entries}), T0 + dt.timedelta(days=30)]
        for e in LedgerEntry.objects.filter(site=w.site, reversal_of__isnull=True):
            assert ledger.batch_remaining(e) >= 0
        for t in times:
            for row in ledger.site_stock(actor=SYSTEM, site_id=w.site.id, at=t):
                assert row["stock"] >= 0
        # Rule 12: closing = opening + generated − self-treated − sent out, for any two dates.
        for a, b in itertools.pairwise(times):
            opening = _flows(w.site.id, None, a)
            closing = _flows(w.site.id, None, b)
            period = _flows(w.site.id, a, b)
            for code in set(opening) | set(closing):
                o = opening.get(code, ledger.CodeStock(code))
                p = period.get(code, ledger.CodeStock(code))
                c = closing.get(code, ledger.CodeStock(code))
                assert c.stock == o.stock + p.generated - p.self_treated - p.sent_out
        transaction.set_rollback(True)


def test_stock_api(w: W) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from weifei.accounts.testing import force_login

    g = _gen(w, "2")
    _send(w, g, "0.5", T0 + dt.timedelta(days=2))
    url = f"/api/v1/plans/sites/{w.site.id}/stock"
    client = Client()
    force_login(client, get_user_model().objects.get(username="l_reader"))
    response = client.get(url)
    assert response.status_code == 200
    assert [(r["waste_code"], Decimal(r["stock"]), Decimal(r["sent_out"])) for r in response.json()] == [
        (CODE, Decimal("1.5"), Decimal("0.5"))
    ]
    early = client.get(url, {"at": (T0 + dt.timedelta(days=1)).isoformat()})
    assert Decimal(early.json()[0]["stock"]) == Decimal(2)
    force_login(client, get_user_model().objects.get(username="l_other"))
    assert client.get(url).status_code == 404


def test_batch_day_is_shanghai_date(w: W) -> None:
    late = _gen(w, "1", at=dt.datetime(2026, 3, 1, 15, 30, tzinfo=dt.UTC))  # 23:30 in Changchun
    early = _gen(w, "1", at=dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC))  # 00:30 the next day
    assert (late.batch_code, early.batch_code) == ("HWCS20260301001", "HWCS20260302001")


# ---------------------------------------------------------------- labels on 产生 records (rule 17)


@pytest.mark.django_db
def test_generate_with_label_allocates_codes_per_unit_code_and_day(w: W) -> None:
    admin = w.actors["admin"]
    first = ledger.ledger_generate(actor=admin, site_id=w.site.id, occurred_at=T0, waste_code=CODE,
                                   quantity=Decimal("0.2"), label=True, container_litres=Decimal(200))  # fmt: skip
    second = ledger.ledger_generate(actor=admin, site_id=w.site.id, occurred_at=T0, waste_code=CODE,
                                    quantity=Decimal("0.2"), label=True)  # fmt: skip
    other_code = ledger.ledger_generate(actor=admin, site_id=w.site.id, occurred_at=T0, waste_code=CODE2,
                                        quantity=Decimal("0.2"), label=True)  # fmt: skip
    assert first.container_code == "91350100M000100Y43" + "90024908" + "20260301" + "001"
    assert second.container_code == "91350100M000100Y43" + "90024908" + "20260301" + "002"
    assert other_code.container_code == "91350100M000100Y43" + "90004149" + "20260301" + "001"
    assert first.container_litres == Decimal(200)
    # downstream records carry the container's code
    stored = ledger.ledger_store_in(actor=admin, site_id=w.site.id, source_id=first.id,
                                    occurred_at=T0 + dt.timedelta(hours=1), quantity=Decimal("0.2"))  # fmt: skip
    assert stored.container_code == first.container_code


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("91350100M000100Y43" + "90004149" + "20260301" + "001", "label_waste_code_mismatch"),
        ("91130200699229617X" + "90024908" + "20260301" + "001", "label_not_own"),
        ("91350100M000100Y43" + "90024908" + "20260302" + "001", "label_date_mismatch"),
        ("91350100M000100Y44" + "90024908" + "20260301" + "001", "credit_code_checksum"),
    ],
)
def test_generate_refuses_a_label_code_that_does_not_match(w: W, code: str, rule: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        ledger.ledger_generate(actor=w.actors["admin"], site_id=w.site.id, occurred_at=T0, waste_code=CODE,
                               quantity=Decimal("0.2"), container_code=code)  # fmt: skip
    assert exc.value.code == rule
    assert exc.value.field == "container_code"
    assert not LedgerEntry.objects.exists()
