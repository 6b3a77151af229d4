"""Declarations over the API and on the pages: periods, generate, submit, correct, export, mandates,
findings — with the refusals (status, code, field) and who may do what."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from weifei.accounts.testing import force_login
from weifei.plans import declarations as decl
from weifei.plans import ledger
from weifei.plans.models import Declaration, DeclarationMandate, LedgerEntry
from weifei.plans.tests import test_declarations as td
from weifei.plans.tests import test_ledger as tl
from weifei.plans.tests.test_declarations import _at
from weifei.plans.tests.test_ledger import W
from weifei.registry.models import Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
w = tl.w
site = td.site
D = "/api/v1/declarations"


def _client(username: str) -> Client:
    c = Client()
    force_login(c, User.objects.get(username=username))
    return c


def _post(c: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return c.post(url, json.dumps(body or {}), content_type="application/json")


def test_api_round_trip(w: W, site: Site) -> None:
    member, reader, other, county = (_client(f"l_{x}") for x in ("member", "reader", "other", "county"))
    r = reader.get(f"{D}/sites/{site.id}/periods?year=2026")
    assert r.status_code == 200 and len(r.json()) == 13
    assert {p["status"] for p in r.json() if p["period_start"] == "2026-03-01"} == {"open"}
    assert other.get(f"{D}/sites/{site.id}/periods?year=2026").status_code == 404
    body = {"site_id": site.id, "kind": "monthly", "period_start": "2026-03-01"}
    assert _post(reader, f"{D}/generate", body).status_code == 403
    assert _post(other, f"{D}/generate", body).status_code == 404
    bad = _post(member, f"{D}/generate", body | {"period_start": "2026-03-02"})
    assert bad.status_code == 400 and bad.json()["field"] == "period_start"
    r = _post(member, f"{D}/generate", body)
    assert r.status_code == 201, r.content
    d = r.json()
    assert d["status"] == "draft" and d["invariant_breaks"] == [] and d["content"]["rows"][0]["closing"] == "2.750000"
    listed = reader.get(f"{D}/?year=2026&kind=monthly&status=draft&site_id={site.id}").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == d["id"]
    assert other.get(f"{D}/").json()["total"] == 0
    assert county.get(f"{D}/{d['id']}").status_code == 200
    assert other.get(f"{D}/{d['id']}").status_code == 404
    assert reader.get(f"{D}/?kind=weekly").json()["field"] == "kind"
    assert _post(reader, f"{D}/{d['id']}/submit").status_code == 403
    r = _post(member, f"{D}/{d['id']}/submit")
    assert r.status_code == 200 and r.json()["status"] == "submitted" and r.json()["late"] is False
    # Correction: refused without a change, then after a reversal.
    r = _post(member, f"{D}/{d['id']}/correct", {"reason": "核对"})
    assert (r.status_code, r.json()["code"]) == (400, "nothing_changed")
    entry = LedgerEntry.objects.get(kind="sent_out", occurred_at=_at(2026, 3, 31, 23, 59, 59))
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=entry.id, reason="重复")
    stale = reader.get(f"{D}/sites/{site.id}/periods?year=2026").json()
    assert {p["status"] for p in stale if p["period_start"] == "2026-03-01" and p["kind"] == "monthly"} == {"stale"}
    r = _post(member, f"{D}/{d['id']}/correct", {"reason": "冲销重复委外"})
    assert r.status_code == 200 and r.json()["revision"] == 1 and len(r.json()["revisions"]) == 1
    assert r.json()["content"]["rows"][0]["closing"] == "3.000000"
    # Exports.
    r = reader.get(f"{D}/{d['id']}/export?format=csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv") and r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[1][-1] == "3.000000"
    r = reader.get(f"{D}/{d['id']}/export?format=xlsx")
    assert r.status_code == 200 and r.content[:2] == b"PK" and "attachment" in r["Content-Disposition"]
    assert reader.get(f"{D}/{d['id']}/export?format=pdf").json()["field"] == "format"
    assert other.get(f"{D}/{d['id']}/export?format=csv").status_code == 404


def test_mandates_and_findings_api(w: W, site: Site) -> None:
    admin, member, county, other = (_client(f"l_{x}") for x in ("admin", "member", "county", "other"))
    body = {"unit_id": w.own.id, "agent_id": w.other.id, "basis": "approved",
            "valid_from": "2026-01-01", "valid_to": "2026-12-31"}  # fmt: skip
    assert _post(member, f"{D}/mandates", body).status_code == 403
    assert _post(admin, f"{D}/mandates", body | {"basis": "x"}).json()["field"] == "basis"
    r = _post(admin, f"{D}/mandates", body)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    mid = r.json()["id"]
    assert [m["id"] for m in other.get(f"{D}/mandates").json()["items"]] == [mid]  # the agent sees it
    assert _post(admin, f"{D}/mandates/{mid}/approve").status_code == 403
    r = _post(county, f"{D}/mandates/{mid}/approve")
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert _post(other, f"{D}/mandates/{mid}/revoke").status_code == 403  # the agent cannot revoke
    r = _post(admin, f"{D}/mandates/{mid}/revoke", {"reason": "终止"})
    assert r.json()["status"] == "revoked"
    assert DeclarationMandate.objects.get(id=mid).revoked_at is not None
    decl.declarations_sweep(now=_at(2026, 4, 10, 9))
    mine = member.get(f"{D}/findings?rule=declaration_missing&open=true").json()
    assert mine["total"] == 15  # 2025: 12 months + the year (due 31 March); 2026: January, February
    assert {f["site_id"] for f in mine["items"]} == {site.id}
    assert county.get(f"{D}/findings?rule=declaration_missing").json()["total"] == 15
    theirs = other.get(f"{D}/findings").json()["items"]
    assert theirs and {f["site_id"] for f in theirs} == {w.other_site.id}  # their own site's only
    assert member.get(f"{D}/findings?rule=nope").json()["field"] == "rule"


def test_pages(w: W, site: Site) -> None:
    member, reader, county, other = (_client(f"l_{x}") for x in ("member", "reader", "county", "other"))
    r = reader.get(f"/plans/declarations/?site_id={site.id}&year=2026")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="periods"' in html and "逾期未申报" in html and "待申报" in html
    assert 'name="period_start"' not in html  # a reader gets no generate buttons
    assert (
        'name="period_start" value="2026-03-01"'
        in member.get(f"/plans/declarations/?site_id={site.id}&year=2026").content.decode()
    )
    assert other.get(f"/plans/declarations/?site_id={site.id}").status_code == 404
    r = member.post("/plans/declarations/generate/", {"site_id": site.id, "kind": "monthly",
                                                      "period_start": "2026-03-01"})  # fmt: skip
    d = Declaration.objects.get(kind="monthly")
    assert r.status_code == 302 and r["Location"] == f"/plans/declarations/{d.id}/"
    r = member.post("/plans/declarations/generate/", {"site_id": site.id, "kind": "monthly",
                                                      "period_start": "2026-13-01"})  # fmt: skip
    assert r.status_code == 302 and Declaration.objects.count() == 1
    html = member.get(f"/plans/declarations/{d.id}/").content.decode()
    assert 'data-testid="annex-c"' in html and 'data-testid="submit-form"' in html and "2.750000" in html
    assert 'data-testid="submit-form"' not in reader.get(f"/plans/declarations/{d.id}/").content.decode()
    assert reader.post(f"/plans/declarations/{d.id}/submit/").status_code == 403
    member.post(f"/plans/declarations/{d.id}/submit/")
    d.refresh_from_db()
    assert d.status == "submitted"
    entry = LedgerEntry.objects.get(kind="sent_out", occurred_at=_at(2026, 3, 31, 23, 59, 59))
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=entry.id, reason="重复")
    html = member.get(f"/plans/declarations/{d.id}/").content.decode()
    assert 'data-testid="stale"' in html and 'data-testid="correct-form"' in html
    member.post(f"/plans/declarations/{d.id}/correct/", {"reason": "冲销"})
    d.refresh_from_db()
    assert d.revision == 1
    assert 'data-testid="revisions"' in member.get(f"/plans/declarations/{d.id}/").content.decode()
    r = reader.get(f"/plans/declarations/{d.id}/export/?format=csv")
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    # Regulators: the jurisdiction's overdue list.
    decl.declarations_sweep(now=_at(2026, 4, 10, 9))
    html = county.get("/plans/declarations/").content.decode()
    assert 'data-testid="overdue"' in html and "monthly:2026-01-01" in html
    # Mandates page: the unit's admin creates, the regulator approves.
    admin = _client("l_admin")
    assert 'data-testid="mandate-form"' in admin.get("/plans/declarations/mandates/").content.decode()
    r = admin.post("/plans/declarations/mandates/new/", {"unit_id": w.own.id, "agent_credit_code": "91000000000000000X",
                                                         "basis": "approved", "valid_from": "2026-01-01",
                                                         "valid_to": "2026-12-31"})  # fmt: skip
    assert r.status_code == 302 and not DeclarationMandate.objects.exists()
    admin.post("/plans/declarations/mandates/new/", {"unit_id": w.own.id, "agent_credit_code": w.other.credit_code,
                                                     "basis": "approved", "valid_from": "2026-01-01",
                                                     "valid_to": "2026-12-31"})  # fmt: skip
    m = DeclarationMandate.objects.get()
    assert m.status == "pending"
    assert member.post(f"/plans/declarations/mandates/{m.id}/approve/").status_code == 403
    county.post(f"/plans/declarations/mandates/{m.id}/approve/")
    m.refresh_from_db()
    assert m.status == "active"
    county.post(f"/plans/declarations/mandates/{m.id}/revoke/", {"reason": "撤销"})
    m.refresh_from_db()
    assert m.status == "revoked"
