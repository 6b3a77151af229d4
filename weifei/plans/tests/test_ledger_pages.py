"""The ledger pages (/plans/ledger/): list with filters, one form per kind, an entry with its chain,
history and reversal — posting through the forms, refusals re-rendered with the message and the
entered values (nothing written), and who may see or write what."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from weifei.core.models import Event
from weifei.plans.models import LedgerEntry
from weifei.plans.tests.test_ledger_api import CODE, T0, W, build_chain, chinese, client_for, written
from weifei.plans.tests.test_ledger_api import w as w  # the fixture

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
BASE = "/plans/ledger"


def local(hours: float = 0) -> str:
    """A datetime-local value as the browser sends it (Asia/Shanghai clock time, no offset)."""
    return (T0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def new_url(w: W, kind: str) -> str:
    return f"{BASE}/sites/{w.site.id}/new/{kind}/"


def gen_form(w: W, **kw: Any) -> dict[str, Any]:
    return {"waste_code": CODE, "occurred_at": local(), "quantity": "1.2", "unit": "t", "container_type": "桶",
            "container_litres": "200", "container_count": "1", "label": "on", "facility_id": str(w.gen.id),
            "handler": "李四", "common_name": "废切削液"} | kw  # fmt: skip


def test_forms_render_for_every_kind(w: W) -> None:
    c = client_for(w, "member")
    build_chain(w, c)
    r = c.get(new_url(w, "generated"))
    body = r.content.decode()
    assert r.status_code == 200
    assert 'name="label" checked' in body  # 生成标签 on by default
    assert '<datalist id="ledger-waste-codes">' in body and 'value="900-249-08"' in body
    assert f"{w.gen.code}" in body and w.store.code not in body  # only generating facilities
    r = c.get(new_url(w, "stored_out"))
    body = r.content.decode()
    assert r.status_code == 200 and "HWRK20260301001" in body and "剩余 0.5 吨" in body
    assert w.store.code in body and w.gen.code not in body
    body = c.get(new_url(w, "self_treated")).content.decode()
    assert "HWCK20260302001" in body and "剩余 0.1 吨" in body and 'value="D10"' in body and w.disp.code in body
    body = c.get(new_url(w, "sent_out")).content.decode()
    assert "接口处置有限公司" in body and "吉危许接口01" in body and 'name="receiver_type"' in body
    body = c.get(new_url(w, "stored_in")).content.decode()
    assert 'data-testid="no-batches"' in body  # the 产生 batch is used up
    assert c.get(f"{BASE}/sites/{w.site.id}/new/burned/").status_code == 404


def test_post_every_kind_and_follow_the_chain(w: W) -> None:
    c = client_for(w, "admin")
    r = c.post(new_url(w, "generated"), gen_form(w))
    assert r.status_code == 302, r.content.decode()[:2000]
    g = LedgerEntry.objects.get(kind="generated")
    assert r["Location"] == f"{BASE}/entries/{g.id}/"
    assert (g.quantity_tonnes, g.common_name, g.handler, g.container_litres) == (
        Decimal("1.2"),
        "废切削液",
        "李四",
        200,
    )
    assert g.occurred_at == T0 and g.container_code and len(g.container_code) == 37
    page = c.get(r["Location"]).content.decode()
    assert "已记录产生 HWCS20260301001" in page and g.container_code in page
    assert f'href="/labels/{g.container_code}/"' in page and f'href="/labels/{g.container_code}/label.pdf"' in page
    r = c.post(new_url(w, "stored_in"), {"source_id": g.id, "occurred_at": local(1), "quantity": "1000", "unit": "kg",
                                         "facility_id": w.store.id, "handler": "王五"})  # fmt: skip
    assert r.status_code == 302
    i = LedgerEntry.objects.get(kind="stored_in")
    r = c.post(new_url(w, "stored_out"), {"source_id": i.id, "occurred_at": local(2), "quantity": "0.8",
                                          "facility_id": w.store.id, "destination": "焚烧"})  # fmt: skip
    assert r.status_code == 302
    o = LedgerEntry.objects.get(kind="stored_out")
    r = c.post(new_url(w, "self_treated"), {"source_id": o.id, "occurred_at": local(3), "quantity": "0.3",
                                            "method_code": "D10", "facility_id": w.disp.id,
                                            "finished_at": local(4)})  # fmt: skip
    assert r.status_code == 302
    s = LedgerEntry.objects.get(kind="self_treated")
    assert s.finished_at == T0 + dt.timedelta(hours=4)
    r = c.post(new_url(w, "sent_out"), {"source_id": g.id, "occurred_at": local(5), "quantity": "0.2",
                                        "method_code": "D10", "receiver_type": "licensed",
                                        "receiver_id": w.operator.id, "licence_number": "吉危许接口01"})  # fmt: skip
    assert r.status_code == 302
    x = LedgerEntry.objects.get(kind="sent_out")
    assert x.receiver_id == w.operator.id and x.source_id == g.id
    # The entry page: chain up to 产生, consumers, remaining, history.
    page = c.get(f"{BASE}/entries/{s.id}/").content.decode()
    for code in (o.batch_code, i.batch_code, g.batch_code):
        assert code in page
    assert 'data-testid="history"' in page and "ledger.self_treated" in page
    page = c.get(f"{BASE}/entries/{g.id}/").content.decode()
    assert f'href="/plans/ledger/entries/{i.id}/"' in page and f'href="/plans/ledger/entries/{x.id}/"' in page
    assert 'data-testid="remaining">0<' in page  # 1.2 − 1 − 0.2
    assert 'data-testid="reverse-form"' in page
    # The list: filters and the buttons to add each kind.
    listing = c.get(f"{BASE}/", {"site_id": w.site.id}).content.decode()
    assert 'data-testid="ledger-add-sent_out"' in listing and "共 5 条" in listing
    assert 'data-testid="ledger-add-generated"' in c.get(f"{BASE}/").content.decode()  # the unit's only site
    assert "共 1 条" in c.get(f"{BASE}/", {"site_id": w.site.id, "kind": "stored_out"}).content.decode()
    assert "共 0 条" in c.get(f"{BASE}/", {"site_id": w.site.id, "from": "2026-03-02"}).content.decode()
    assert "共 5 条" in c.get(f"{BASE}/", {"container": g.container_code}).content.decode()
    # Reversal through the page: reason required (400, nothing written), then done.
    before = written()
    r = c.post(f"{BASE}/entries/{x.id}/reverse/", {"reason": " "})
    assert r.status_code == 400 and 'data-field="reason"' in r.content.decode() and written() == before
    r = c.post(f"{BASE}/entries/{g.id}/reverse/", {"reason": "录错"})
    assert r.status_code == 400 and "请先冲销后续记录" in r.content.decode() and written() == before
    r = c.post(f"{BASE}/entries/{x.id}/reverse/", {"reason": "委外录错"})
    rev = LedgerEntry.objects.get(reversal_of=x)
    assert r.status_code == 302 and r["Location"] == f"{BASE}/entries/{rev.id}/"
    assert "已冲销" in c.get(r["Location"]).content.decode()
    assert Event.objects.filter(kind="ledger.reversed").count() == 1


def _refused(c: Client, url: str, form: dict[str, Any], code: str, field: str, kept: str) -> None:
    before = written()
    r = c.post(url, form)
    body = r.content.decode()
    assert r.status_code == 400, (form, r.status_code)
    assert f'data-code="{code}"' in body and f'data-field="{field}"' in body, (form, body[:3000])
    assert chinese(body.split('data-testid="form-error"')[1][:200])
    assert kept in body  # the entered values are kept
    assert written() == before


def test_refusals_re_render_with_the_message(w: W) -> None:
    c = client_for(w, "admin")
    e = build_chain(w, c)
    from weifei.core.actors import SYSTEM
    from weifei.plans import ledger

    other = ledger.ledger_generate(actor=SYSTEM, site_id=w.other_site.id, occurred_at=T0, waste_code=CODE,
                                   quantity=Decimal(1))  # fmt: skip
    future = (dt.datetime.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    url = new_url(w, "generated")
    _refused(c, url, gen_form(w, waste_code="900-999-08"), "waste_code_not_listed", "waste_code", 'value="900-999-08"')
    _refused(c, url, gen_form(w, category="HW49"), "waste_code_category_mismatch", "waste_code", 'value="HW49"')
    _refused(c, url, gen_form(w, quantity="-3"), "quantity_not_positive", "quantity", 'value="-3"')
    _refused(c, url, gen_form(w, quantity="5000000"), "quantity_too_large", "quantity", 'value="5000000"')
    _refused(c, url, gen_form(w, quantity="abc"), "number_invalid", "quantity", 'value="abc"')
    _refused(c, url, gen_form(w, occurred_at=future), "time_in_future", "occurred_at", f'value="{future}"')
    body = c.post(url, gen_form(w, quantity="-3", label="")).content.decode()
    assert 'name="label" checked' not in body  # the unchecked box stays unchecked
    assert 'data-testid="error-quantity"' in body and 'aria-invalid="true"' in body
    down = {"occurred_at": local(30), "quantity": "0.05"}
    _refused(c, new_url(w, "stored_out"), down | {"source_id": e["i"]["id"], "quantity": "0.9"},
             "quantity_exceeds_source", "quantity", 'value="0.9"')  # fmt: skip
    _refused(c, new_url(w, "stored_in"), down | {"source_id": other.id}, "source_missing", "source", 'value="0.05"')
    _refused(c, new_url(w, "stored_in"), down, "source_required", "source", 'value="0.05"')
    _refused(c, new_url(w, "sent_out"), down | {"source_id": e["o"]["id"], "method_code": "D10",
             "receiver_type": "licensed", "receiver_id": w.operator.id}, "licence_required", "licence_number",
             f'value="{w.operator.id}" selected')  # fmt: skip


def test_who_may_see_and_write(w: W) -> None:
    e = build_chain(w, client_for(w, "admin"))
    g = e["g"]
    for who in ("driver", "reader", "county", "prefecture"):
        c = client_for(w, who)
        assert c.get(f"{BASE}/", {"site_id": w.site.id}).status_code == 200, who
        page = c.get(f"{BASE}/entries/{g['id']}/")
        assert page.status_code == 200 and 'data-testid="reverse-form"' not in page.content.decode(), who
        assert 'data-testid="ledger-add"' not in c.get(f"{BASE}/", {"site_id": w.site.id}).content.decode()
        assert c.get(new_url(w, "generated")).status_code == 403, who
        before = written()
        assert c.post(new_url(w, "generated"), gen_form(w)).status_code == 403, who
        assert c.post(f"{BASE}/entries/{e['s']['id']}/reverse/", {"reason": "x"}).status_code == 403, who
        assert written() == before
    for who in ("other", "elsewhere"):
        c = client_for(w, who)
        assert c.get(f"{BASE}/", {"site_id": w.site.id}).status_code == 404, who
        assert g["batch_code"] not in c.get(f"{BASE}/").content.decode(), who
        assert c.get(f"{BASE}/entries/{g['id']}/").status_code == 404, who
        assert c.get(new_url(w, "generated")).status_code == 404, who
        assert c.post(new_url(w, "generated"), gen_form(w)).status_code == 404, who
    anonymous = Client().get(f"{BASE}/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    # The county regulator's list over every visible site shows the unit's entries.
    assert "共 6 条" in client_for(w, "county").get(f"{BASE}/").content.decode()
