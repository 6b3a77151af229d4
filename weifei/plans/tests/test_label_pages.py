"""Labels linked to the ledger: the verification page /labels/<code>/ (public part, history for
those who see the site), the scan page, the label PDF, batch printing and the labels API."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM, Actor
from weifei.core.models import Event
from weifei.plans import ledger
from weifei.plans.labels import container_get, label_code_build
from weifei.plans.models import LedgerEntry
from weifei.plans.views_labels import scanned_code
from weifei.registry import services as registry
from weifei.registry.models import Enterprise, Facility, Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "labels-Pa55word!"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=SH)
CODE = "900-249-08"
UNIT = "91350100M000100Y43"
CATALOGUE_NAME = "其他生产、销售、使用过程中产生的废矿物油及沾染矿物油的废弃包装物"
HAS_POPPLER = bool(shutil.which("pdftotext") and shutil.which("pdfinfo"))
HAS_ZBAR = bool(shutil.which("zbarimg") and shutil.which("pdftoppm"))


class W:
    own: Enterprise
    other: Enterprise
    operator: Enterprise
    site: Site
    gen: Facility
    store: Facility
    users: dict[str, Any]
    actors: dict[str, Actor]


@pytest.fixture
def w() -> W:
    w = W()
    w.own = registry.enterprise_create(actor=SYSTEM, credit_code=UNIT, name="标签测试有限公司", region_key="220102",
                                       roles=("is_generator",), contact_name="王工",
                                       contact_phone="0431-88880000")  # fmt: skip
    w.other = registry.enterprise_create(actor=SYSTEM, credit_code="91130200699229617X", name="他单位标签测试有限公司",
                                         region_key="220202", roles=("is_generator",))  # fmt: skip
    w.operator = registry.enterprise_create(actor=SYSTEM, credit_code="911302307808371268", name="标签处置有限公司",
                                            region_key="220102", roles=("is_operator",))  # fmt: skip
    registry.licence_create(actor=SYSTEM, holder=w.operator, number="吉危许标签01", kind="comprehensive",
                            methods=["disposal"], annual_capacity_tonnes=Decimal(1000), valid_from=dt.date(2025, 1, 1),
                            categories=["HW08"])  # fmt: skip
    w.site = registry.site_create(actor=SYSTEM, enterprise=w.own, name="一厂", address="南关区标签路1号",
                                  region_key="220102", roles=["generator"])  # fmt: skip
    w.gen = registry.facility_create(actor=SYSTEM, site=w.site, kind="generating", name="机加工线")
    w.store = registry.facility_create(actor=SYSTEM, site=w.site, kind="storage", name="危废贮存库",
                                       storage_capacity_tonnes=Decimal(20))  # fmt: skip
    w.users, w.actors = {}, {}
    for role in ("admin", "member", "reader"):
        user = enterprise_user_create(actor=SYSTEM, enterprise=w.own, username=f"lb_{role}", password=PASSWORD,
                                      full_name=role, role=role).user  # fmt: skip
        w.users[role], w.actors[role] = user, actor_for(user)
    user = enterprise_user_create(actor=SYSTEM, enterprise=w.other, username="lb_other", password=PASSWORD,
                                  full_name="他", role="admin").user  # fmt: skip
    w.users["other"], w.actors["other"] = user, actor_for(user)
    for name, region in (("county", "220102"), ("elsewhere", "220202")):
        user = regulator_account_create(actor=SYSTEM, username=f"lb_{name}", password=PASSWORD, full_name=name,
                                        region_key=region, department="测试", role="regulator").user  # fmt: skip
        w.users[name], w.actors[name] = user, actor_for(user)
    return w


def client_for(w: W, who: str) -> Client:
    client = Client()
    if who != "anonymous":
        force_login(client, w.users[who])
    return client


def gen(w: W, litres: str | None = "200", qty: str = "180.5", unit: str = "kg", **kw: Any) -> LedgerEntry:
    args: dict[str, Any] = {
        "waste_code": CODE, "quantity": Decimal(qty), "unit": unit, "facility_id": w.gen.id, "label": True,
        "container_litres": Decimal(litres) if litres else None, "container_type": "铁桶", "common_name": "废机油",
        "handler": "李四", "occurred_at": T0,
    }  # fmt: skip
    return ledger.ledger_generate(actor=w.actors["admin"], site_id=w.site.id, **(args | kw))


def store_in(w: W, src: LedgerEntry, tonnes: str) -> LedgerEntry:
    return ledger.ledger_store_in(actor=w.actors["member"], site_id=w.site.id, source_id=src.id,
                                  occurred_at=T0 + dt.timedelta(hours=1), quantity=Decimal(tonnes),
                                  facility_id=w.store.id, handler="赵六")  # fmt: skip


def store_out(w: W, src: LedgerEntry, tonnes: str) -> LedgerEntry:
    return ledger.ledger_store_out(actor=w.actors["member"], site_id=w.site.id, source_id=src.id,
                                   occurred_at=T0 + dt.timedelta(hours=2), quantity=Decimal(tonnes),
                                   facility_id=w.store.id, destination="委外处置")  # fmt: skip


def send_out(w: W, src: LedgerEntry, tonnes: str) -> LedgerEntry:
    return ledger.ledger_send_out(actor=w.actors["member"], site_id=w.site.id, source_id=src.id,
                                  occurred_at=T0 + dt.timedelta(hours=3), quantity=Decimal(tonnes),
                                  method_code="D10", receiver_type="licensed", receiver_id=w.operator.id,
                                  licence_number="吉危许标签01")  # fmt: skip


def page(w: W, who: str, code: str) -> Any:
    return client_for(w, who).get(f"/labels/{code}/")


def text(response: Any) -> str:
    return response.content.decode()


def states(w: W, code: str) -> list[tuple[str, Decimal, str]]:
    return [(s.key, s.tonnes, s.detail) for s in container_get(actor=SYSTEM, code=code).states]


# ---- the verification page -------------------------------------------------------------------


def test_public_page_shows_the_label_and_state_but_no_history(w: W) -> None:
    entry = gen(w)
    code = entry.container_code
    assert code is not None and len(code) == 37
    response = page(w, "anonymous", code)
    assert response.status_code == 200
    body = text(response)
    assert 'data-testid="label-page"' in body
    assert "标签测试有限公司" in body
    assert "废机油" in body and CATALOGUE_NAME in body
    assert CODE in body and "HW08" in body and "废矿物油与含矿物油废物" in body
    assert "T 毒性、I 易燃性" in body
    assert "2026-03-01" in body
    assert "180.5 kg" in body
    # The code is shown split into its four HJ 1276 segments.
    segments = re.findall(r'<li><span class="code">([0-9A-Z]+)</span><small>(\d) · ([^<]+)</small></li>', body)
    assert [s[0] for s in segments] == [UNIT, "90024908", "20260301", "001"]
    assert [s[2] for s in segments] == ["产生/收集单位编码", "危险废物代码", "产生/收集日期码", "废物顺序编码"]
    assert 'data-state="generated"' in body and "在产生点" in body
    # No history for the public: neither the records nor the events nor the handler.
    assert 'data-testid="label-history"' not in body
    assert entry.batch_code not in body and "李四" not in body and "ledger.generated" not in body
    assert "label.pdf" not in body


@pytest.mark.parametrize(
    ("who", "sees"),
    [("admin", True), ("reader", True), ("county", True), ("other", False), ("elsewhere", False)],
)
def test_history_for_who_sees_the_site(w: W, who: str, sees: bool) -> None:
    entry = gen(w)
    stored = store_in(w, entry, "0.1805")
    body = text(page(w, who, entry.container_code or ""))
    assert "标签测试有限公司" in body and "在库" in body  # the public part for everyone
    assert ('data-testid="label-history"' in body) is sees
    for shown in (entry.batch_code, stored.batch_code, "李四", "赵六", "ledger.generated", "ledger.stored_in"):
        assert (shown in body) is sees, shown
    assert ("label.pdf" in body) is sees


def test_malformed_code_is_400_with_the_segment_message(w: W) -> None:
    response = page(w, "anonymous", "ABC123")
    assert response.status_code == 400
    assert "数字识别码应为 37 位，当前为 6 位" in text(response)
    bad_check = "91350100M000100Y44" + "90024908" + "20260301" + "001"
    response = page(w, "anonymous", bad_check)
    assert response.status_code == 400
    assert "数字识别码第 1 段（产生/收集单位编码，18 位）" in text(response)
    unlisted = UNIT + "90024999" + "20260301" + "001"
    response = page(w, "admin", unlisted)
    assert response.status_code == 400
    assert "数字识别码第 2 段（危险废物代码，8 位）" in text(response)


def test_unknown_code_is_404(w: W) -> None:
    gen(w)
    unknown = label_code_build(credit_code=UNIT, waste_code=CODE, on=T0.date(), seq=2)
    for who in ("anonymous", "admin"):
        response = page(w, who, unknown)
        assert response.status_code == 404
        assert "未找到该标签" in text(response)


def test_code_is_normalised(w: W) -> None:
    code = gen(w).container_code or ""
    response = page(w, "anonymous", code.lower())
    assert response.status_code == 302 and response["Location"] == f"/labels/{code}/"


def test_states_follow_the_ledger(w: W) -> None:
    entry = gen(w, qty="2", unit="t")
    code = entry.container_code or ""
    assert states(w, code) == [("generated", Decimal(2), "")]
    half = store_in(w, entry, "1")
    assert states(w, code) == [("generated", Decimal(1), ""), ("stored", Decimal(1), "危废贮存库")]
    rest = store_in(w, entry, "1")
    assert states(w, code) == [("stored", Decimal(2), "危废贮存库")]
    out = store_out(w, half, "1")
    assert states(w, code) == [("stored", Decimal(1), "危废贮存库"), ("stored_out", Decimal(1), "委外处置")]
    sent = send_out(w, out, "1")
    assert states(w, code) == [("stored", Decimal(1), "危废贮存库"), ("sent_out", Decimal(1), "标签处置有限公司")]
    body = text(page(w, "anonymous", code))
    assert "已委外" in body and "标签处置有限公司" in body and "在库" in body
    # A reversal gives the waste back to the record it came from.
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=sent.id, reason="录错")
    assert states(w, code) == [("stored", Decimal(1), "危废贮存库"), ("stored_out", Decimal(1), "委外处置")]
    for e in (out, half, rest):
        ledger.ledger_reverse(actor=w.actors["admin"], entry_id=e.id, reason="录错")
    assert states(w, code) == [("generated", Decimal(2), "")]
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=entry.id, reason="录错")
    assert states(w, code) == [("reversed", Decimal(2), "")]
    response = page(w, "admin", code)
    body = text(response)
    assert response.status_code == 200 and "已冲销" in body and "录错" in body
    assert "label.pdf" not in body  # a reversed container's label is not printed


def test_self_treatment_state(w: W) -> None:
    disp = registry.facility_create(actor=SYSTEM, site=w.site, kind="disposal", name="焚烧炉",
                                    design_capacity_tonnes=Decimal(100))  # fmt: skip
    entry = gen(w, qty="1", unit="t")
    ledger.ledger_self_treat(actor=w.actors["member"], site_id=w.site.id, source_id=entry.id,
                             occurred_at=T0 + dt.timedelta(hours=1), quantity=Decimal(1), method_code="D10",
                             facility_id=disp.id)  # fmt: skip
    assert states(w, entry.container_code or "") == [("self_treated", Decimal(1), "D10")]
    assert "已自行利用处置" in text(page(w, "anonymous", entry.container_code or ""))


def test_reused_code_after_reversal_shows_the_live_container(w: W) -> None:
    first = gen(w, qty="1", unit="t")
    code = first.container_code or ""
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=first.id, reason="重复登记")
    again = gen(w, qty="3", unit="t", container_code=code)
    container = container_get(actor=w.actors["admin"], code=code)
    assert container.generated.id == again.id and not container.reversed
    assert [s.key for s in container.states] == ["generated"] and container.states[0].tonnes == 3
    assert {e.id for e in container.entries} >= {first.id, again.id}  # the whole history


def test_rule_17_warning_when_the_ledger_waste_code_differs(w: W) -> None:
    entry = gen(w)
    stored = store_in(w, entry, "0.1")
    body = text(page(w, "anonymous", entry.container_code or ""))
    assert 'data-testid="label-warning"' not in body
    # Rule 17 holds by construction; a record changed behind the services must still show.
    LedgerEntry.objects.filter(id=stored.id).update(waste_code="900-214-08")
    body = text(page(w, "anonymous", entry.container_code or ""))
    assert 'data-testid="label-warning"' in body
    assert "900-214-08" in body and "第17条" in body


# ---- the scan page ---------------------------------------------------------------------------


def test_scan_page(w: W) -> None:
    code = gen(w).container_code or ""
    client = Client()
    response = client.get("/labels/")
    body = text(response)
    assert response.status_code == 200
    assert 'data-testid="label-code-input"' in body and "js/label-scan.js" in body
    assert 'data-testid="label-camera"' in body and "hidden>" in body  # shown by the script only
    for typed in (code, code.lower(), f"https://weifei.example.cn/labels/{code}/", f"  {code}\n"):
        response = client.get("/labels/", {"code": typed})
        assert response.status_code == 302, typed
        assert response["Location"] == f"/labels/{code}/"
    response = client.get("/labels/", {"code": "12345"})
    assert response.status_code == 400 and "数字识别码应为 37 位" in text(response)


def test_scanned_code() -> None:
    code = UNIT + "90024908" + "20260301" + "001"
    assert scanned_code(f"http://h:8000/labels/{code}/") == code
    assert scanned_code(f"http://h/labels/{code.lower()}/?x=1") == code
    full_width = code.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert scanned_code(full_width) == code
    assert scanned_code("") == ""


def test_scan_script_is_served() -> None:
    from django.contrib.staticfiles import finders

    path = finders.find("js/label-scan.js")
    assert path is not None
    source = Path(str(path)).read_text()
    assert "BarcodeDetector" in source and "getUserMedia" in source and "http" not in source.split("\n", 5)[-1]


# ---- the label PDF ---------------------------------------------------------------------------


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True)
    return re.sub(r"\s+", "", out.stdout)


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[tuple[float, float]]:
    """(width, height) in mm of every page."""
    path = tmp_path / "pages.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", "-f", "1", "-l", "9999", str(path)], check=True, capture_output=True, text=True)
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out.stdout)
    return [(round(float(a) * 25.4 / 72), round(float(b) * 25.4 / 72)) for a, b in sizes]


def qr_decode(pdf: bytes, tmp_path: Path) -> list[str]:
    (tmp_path / "qr.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-f", "1", "-l", "1", "-singlefile", str(tmp_path / "qr.pdf"),
                    str(tmp_path / "qr")], check=True)  # fmt: skip
    out = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "qr.png")], capture_output=True, text=True)
    return out.stdout.split()


def test_label_pdf_permissions(w: W) -> None:
    code = gen(w).container_code or ""
    url = f"/labels/{code}/label.pdf"
    for who in ("admin", "reader", "county"):
        response = client_for(w, who).get(url)
        assert response.status_code == 200, who
        assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    for who in ("other", "elsewhere"):
        assert client_for(w, who).get(url).status_code == 404, who
    response = client_for(w, "anonymous").get(url)
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.skipif(not (HAS_POPPLER and HAS_ZBAR), reason="poppler-utils / zbar-tools not installed")
def test_label_pdf_content_and_qr(w: W, tmp_path: Path) -> None:
    code = gen(w, litres="20").container_code or ""
    pdf = client_for(w, "member").get(f"/labels/{code}/label.pdf").content
    flat = pdf_text(pdf, tmp_path)
    assert "废机油" in flat and "其他生产" in flat
    assert code in flat and CODE in flat and "标签测试有限公司" in flat and "王工" in flat
    assert "180.5kg" in flat and "2026-03-01" in flat
    assert pdf_pages(pdf, tmp_path) == [(100, 100)]
    assert qr_decode(pdf, tmp_path) == [f"http://testserver/labels/{code}/"]


@pytest.mark.skipif(not HAS_POPPLER, reason="poppler-utils not installed")
def test_label_pdf_sizes_and_two_copies_over_450_litres(w: W, tmp_path: Path) -> None:
    client = client_for(w, "admin")
    big = gen(w, litres="1000").container_code
    unknown = gen(w, litres=None).container_code
    assert pdf_pages(client.get(f"/labels/{big}/label.pdf").content, tmp_path) == [(200, 200), (200, 200)]
    assert pdf_pages(client.get(f"/labels/{unknown}/label.pdf").content, tmp_path) == [(150, 150)]


# ---- batch printing ------------------------------------------------------------------------


def test_print_page_lists_and_filters(w: W) -> None:
    a = gen(w)
    b = gen(w, waste_code="900-214-08", occurred_at=T0 + dt.timedelta(days=3))
    unlabelled = gen(w, label=False)
    reversed_one = gen(w)
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=reversed_one.id, reason="错")
    client = client_for(w, "member")
    body = text(client.get("/plans/print/labels/", {"site_id": w.site.id}))
    listed = set(map(int, re.findall(r'name="entry_ids" value="(\d+)"', body)))
    assert listed == {a.id, b.id}
    assert unlabelled.id not in listed and reversed_one.id not in listed
    body = text(client.get("/plans/print/labels/", {"site_id": w.site.id, "waste_code": "900-214-08"}))
    assert set(map(int, re.findall(r'name="entry_ids" value="(\d+)"', body))) == {b.id}
    body = text(client.get("/plans/print/labels/", {"site_id": w.site.id, "date_to": "2026-03-02"}))
    assert set(map(int, re.findall(r'name="entry_ids" value="(\d+)"', body))) == {a.id}
    response = client.get("/plans/print/labels/", {"site_id": w.site.id, "date_from": "2026-13-01"})
    assert response.status_code == 400 and "日期" in text(response)
    response = client.get("/plans/print/labels/", {"site_id": w.site.id, "waste_code": "HW08"})
    assert response.status_code == 400 and "废物代码" in text(response)
    assert client_for(w, "other").get("/plans/print/labels/", {"site_id": w.site.id}).status_code == 404
    body = text(client.get("/plans/print/labels/"))
    assert f"?site_id={w.site.id}" in body  # the site chooser


@pytest.mark.skipif(not HAS_POPPLER, reason="poppler-utils not installed")
def test_print_batch_pdf_with_two_copies_over_450_litres(w: W, tmp_path: Path) -> None:
    small, big, unknown = gen(w, litres="20"), gen(w, litres="1000"), gen(w, litres=None)
    client = client_for(w, "member")
    response = client.post(
        "/plans/print/labels/", {"site_id": w.site.id, "entry_ids": [small.id, big.id, unknown.id, small.id]}
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert pdf_pages(response.content, tmp_path) == [(100, 100), (200, 200), (200, 200), (150, 150)]
    flat = pdf_text(response.content, tmp_path)
    for e in (small, big, unknown):
        assert (e.container_code or "-") in flat
    # The API gives the same pages.
    response = client.post(
        "/api/v1/labels/print", json.dumps({"entry_ids": [big.id, small.id]}), content_type="application/json"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert pdf_pages(response.content, tmp_path) == [(200, 200), (200, 200), (100, 100)]


def test_print_refusals(w: W) -> None:
    ok = gen(w)
    unlabelled = gen(w, label=False)
    reversed_one = gen(w)
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=reversed_one.id, reason="错")
    stored = store_in(w, ok, "0.1")
    client = client_for(w, "member")
    events = Event.objects.count()

    def post(ids: list[int], who: Client = client) -> Any:
        return who.post("/api/v1/labels/print", json.dumps({"entry_ids": ids}), content_type="application/json")

    for ids, code in (
        ([], "labels_empty"),
        ([unlabelled.id], "entry_not_labelled"),
        ([stored.id], "entry_not_labelled"),
        ([ok.id, reversed_one.reversed_by.id], "entry_not_labelled"),  # type: ignore[attr-defined]
        ([reversed_one.id], "entry_reversed"),
    ):
        response = post(ids)
        assert response.status_code == 400, ids
        error = response.json()
        assert (error["code"], error["field"]) == (code, "entry_ids")
    assert post([ok.id], client_for(w, "other")).status_code == 404
    assert post([ok.id], client_for(w, "elsewhere")).status_code == 404
    assert post([ok.id], client_for(w, "anonymous")).status_code == 401
    assert post([ok.id, 999_999]).status_code == 404
    assert Event.objects.count() == events  # printing writes nothing
    # The page shows a refusal as a message and goes back to the list.
    response = client.post("/plans/print/labels/", {"site_id": w.site.id, "entry_ids": [reversed_one.id]}, follow=True)
    assert response.status_code == 200 and "已冲销" in text(response)


# ---- the API ---------------------------------------------------------------------------------


def test_api_label_public_and_history(w: W) -> None:
    entry = gen(w, litres="1000")
    store_in(w, entry, "0.1")
    code = entry.container_code or ""
    data = client_for(w, "anonymous").get(f"/api/v1/labels/{code.lower()}").json()
    assert data["code"] == code and data["unit_name"] == "标签测试有限公司"
    assert data["waste_code"] == CODE and data["waste_name"] == CATALOGUE_NAME and data["common_name"] == "废机油"
    assert data["hazards"] == ["T", "I"] and data["produced_on"] == "2026-03-01"
    assert Decimal(data["weight"]) == Decimal("180.5") and data["weight_unit"] == "kg"
    assert (data["label_width_mm"], data["label_sides"]) == (200, 2)
    assert [s["value"] for s in data["segments"]] == [UNIT, "90024908", "20260301", "001"]
    assert [(s["key"], Decimal(s["tonnes"])) for s in data["states"]] == [
        ("generated", Decimal("0.0805")),
        ("stored", Decimal("0.1")),
    ]
    assert data["verification_url"] == f"http://testserver/labels/{code}/"
    assert data["history"] is None
    assert client_for(w, "other").get(f"/api/v1/labels/{code}").json()["history"] is None
    history = client_for(w, "county").get(f"/api/v1/labels/{code}").json()["history"]
    assert [e["kind"] for e in history["entries"]] == ["generated", "stored_in"]
    assert history["entries"][1]["source_batch_code"] == entry.batch_code
    assert {e["kind"] for e in history["events"]} == {"ledger.generated", "ledger.stored_in"}


def test_api_label_errors_and_pdf(w: W) -> None:
    code = gen(w).container_code or ""
    client = client_for(w, "anonymous")
    error = client.get("/api/v1/labels/ABC").json()
    assert (error["code"], error["field"]) == ("label_code_length", "label_code")
    response = client.get(f"/api/v1/labels/{'91350100M000100Y44' + code[18:]}")
    assert response.status_code == 400 and response.json()["code"] == "credit_code_checksum"
    unknown = label_code_build(credit_code=UNIT, waste_code=CODE, on=T0.date(), seq=9)
    response = client.get(f"/api/v1/labels/{unknown}")
    assert response.status_code == 404 and response.json()["message"] == "未找到该标签"
    assert client.get(f"/api/v1/labels/{code}/pdf").status_code == 401
    assert client_for(w, "other").get(f"/api/v1/labels/{code}/pdf").status_code == 404
    response = client_for(w, "county").get(f"/api/v1/labels/{code}/pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


# ---- the scan script, in Chromium ------------------------------------------------------------

STUB_CAMERA = """
window.__detected = %s;
window.BarcodeDetector = class {
  static getSupportedFormats() { return Promise.resolve(["qr_code", "ean_13"]); }
  detect() { return Promise.resolve(window.__detected ? [{ rawValue: window.__detected }] : []); }
};
navigator.mediaDevices.getUserMedia = () => {
  const canvas = document.createElement("canvas");
  canvas.getContext("2d").fillRect(0, 0, 10, 10);
  return Promise.resolve(canvas.captureStream(5));
};
"""


@pytest.mark.browser
def test_scan_script_in_chromium(w: W, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without BarcodeDetector the camera button stays hidden; with it (stubbed: Chromium on Linux
    has none), a scan fills the field with the QR payload and submits the form."""
    from django.contrib.staticfiles import finders

    sync_api = pytest.importorskip("playwright.sync_api")
    code = gen(w).container_code or ""
    html = text(Client().get("/labels/"))
    script = Path(str(finders.find("js/label-scan.js"))).read_text()
    html = re.sub(r'<script src="[^"]*label-scan\.js" defer></script>', f"<script>{script}</script>", html)
    html = re.sub(r'<(link|script)[^>]+(href|src)="/static/[^"]*"[^>]*>(</script>)?', "", html)
    payload = f"http://testserver/labels/{code}/"
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu",
                                     "--disable-background-networking", "--disable-component-update",
                                     "--disable-sync", "--no-first-run"])  # fmt: skip
        try:
            plain = browser.new_page(viewport={"width": 390, "height": 844})
            plain.route("https://label.test/**", lambda route: route.fulfill(status=200, body=html,
                                                                             content_type="text/html"))  # fmt: skip
            plain.goto("https://label.test/labels/")
            assert plain.locator('[data-testid="label-camera"]').is_hidden()
            assert plain.evaluate("document.documentElement.scrollWidth") <= 390

            page = browser.new_page(viewport={"width": 390, "height": 844})
            submitted: list[str] = []

            def serve(route: Any) -> None:
                if "code=" in route.request.url:
                    submitted.append(route.request.url)
                route.fulfill(status=200, body=html, content_type="text/html")

            page.add_init_script(STUB_CAMERA % json.dumps(payload))
            page.route("https://label.test/**", serve)  # a secure context, as the camera needs
            page.goto("https://label.test/labels/")
            button = page.locator('[data-testid="label-camera"]')
            button.wait_for(state="visible")
            button.click()
            page.wait_for_url("**/labels/?code=*")
        finally:
            browser.close()
    assert len(submitted) == 1
    assert parse_qs(urlsplit(submitted[0]).query)["code"] == [payload]
    # The server takes the scanned URL to the verification page.
    response = Client().get("/labels/", {"code": payload})
    assert response.status_code == 302 and response["Location"] == f"/labels/{code}/"
