"""The plan receipt (备案回执) as a PDF: /plans/print/plans/<plan_id>/receipt.pdf (HJ 1259 5.2.2)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.plans import services
from weifei.plans.models import ManagementPlan
from weifei.plans.receipt_pdf import receipt_pdf
from weifei.registry import services as registry
from weifei.registry.models import Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "receipt-Pa55word!"
YEAR = 2026
HAS_POPPLER = bool(shutil.which("pdftotext") and shutil.which("pdfinfo"))
HAS_ZBAR = bool(shutil.which("zbarimg") and shutil.which("pdftoppm"))


@pytest.fixture
def w() -> dict[str, Any]:
    own = registry.enterprise_create(actor=SYSTEM, credit_code="91350100M000100Y43", name="回执测试有限公司",
                                     region_key="220102", roles=("is_generator",))  # fmt: skip
    other = registry.enterprise_create(actor=SYSTEM, credit_code="91130200699229617X", name="他单位回执测试有限公司",
                                       region_key="220202", roles=("is_generator",))  # fmt: skip
    operator = registry.enterprise_create(actor=SYSTEM, credit_code="911302307808371268", name="回执处置有限公司",
                                          region_key="220102", roles=("is_operator",))  # fmt: skip
    registry.licence_create(actor=SYSTEM, holder=operator, number="吉危许回执01", kind="comprehensive",
                            methods=["disposal"], annual_capacity_tonnes=Decimal(1000), valid_from=dt.date(2025, 1, 1),
                            categories=["HW08", "HW49"])  # fmt: skip
    site = registry.site_create(actor=SYSTEM, enterprise=own, name="一厂", address="南关区回执路1号",
                                region_key="220102", roles=["generator"])  # fmt: skip
    gen = registry.facility_create(actor=SYSTEM, site=site, kind="generating", name="机加工线")
    Site.objects.filter(id=site.id).update(management_class="key")
    users = {
        "admin": enterprise_user_create(actor=SYSTEM, enterprise=own, username="r_admin", password=PASSWORD,
                                        full_name="管理员", role="admin").user,
        "reader": enterprise_user_create(actor=SYSTEM, enterprise=own, username="r_reader", password=PASSWORD,
                                         full_name="只读", role="reader").user,
        "other": enterprise_user_create(actor=SYSTEM, enterprise=other, username="r_other", password=PASSWORD,
                                        full_name="他", role="admin").user,
    }  # fmt: skip
    for name, region in (("county", "220102"), ("elsewhere", "220202")):
        users[name] = regulator_account_create(actor=SYSTEM, username=f"r_{name}", password=PASSWORD, full_name=name,
                                               region_key=region, department="测试", role="regulator").user  # fmt: skip
    admin = actor_for(users["admin"])
    plan = services.plan_draft(actor=admin, site_id=site.id, year=YEAR)
    services.plan_line_add(actor=admin, plan_id=plan.id, section="A3", waste_code="900-249-08", tonnes=Decimal("5"),
                           facility_code=gen.code)  # fmt: skip
    services.plan_line_add(actor=admin, plan_id=plan.id, section="A3", waste_code="900-041-49",
                           tonnes=Decimal("1.25"), waste_name="废油桶")  # fmt: skip
    services.plan_line_add(actor=admin, plan_id=plan.id, section="A7", waste_code="900-249-08", tonnes=Decimal("5"),
                           transfer_type="in_province", receiver_type="licensed", receiver_id=operator.id,
                           method_code="D10")  # fmt: skip
    return {"plan": plan, "users": users, "admin": admin, "own": own}


def client_for(w: dict[str, Any], who: str) -> Client:
    client = Client()
    if who != "anonymous":
        force_login(client, w["users"][who])
    return client


def url(plan: ManagementPlan) -> str:
    return f"/plans/print/plans/{plan.id}/receipt.pdf"


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    (tmp_path / "r.pdf").write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(tmp_path / "r.pdf"), "-"], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return re.sub(r"\s+", "", out.stdout)


def test_draft_has_no_receipt(w: dict[str, Any]) -> None:
    response = client_for(w, "admin").get(url(w["plan"]))
    assert response.status_code == 400
    assert "只有已备案或审核通过的管理计划有备案回执" in response.content.decode()
    with pytest.raises(ApplicationError) as exc:
        receipt_pdf(w["plan"], receipt_url="http://x/")
    assert (exc.value.code, exc.value.field) == ("plan_not_filed", "plan")


def test_receipt_permissions(w: dict[str, Any]) -> None:
    plan = services.plan_file(actor=w["admin"], plan_id=w["plan"].id)
    for who in ("admin", "reader", "county"):
        response = client_for(w, who).get(url(plan))
        assert response.status_code == 200, who
        assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    for who in ("other", "elsewhere"):
        assert client_for(w, who).get(url(plan)).status_code == 404, who
    response = client_for(w, "anonymous").get(url(plan))
    assert response.status_code == 302 and "login" in response["Location"]
    assert client_for(w, "admin").get("/plans/print/plans/999999/receipt.pdf").status_code == 404


@pytest.mark.skipif(not HAS_POPPLER, reason="poppler-utils not installed")
def test_receipt_content(w: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Filed on 1 April 2026, 00:30 Beijing time: late (after 31 March), although still 31 March in UTC.
    monkeypatch.setattr(services, "_now", lambda: dt.datetime(2026, 4, 1, 0, 30, tzinfo=SH).astimezone(dt.UTC))
    plan = services.plan_file(actor=w["admin"], plan_id=w["plan"].id)
    assert plan.late and plan.filing_number
    flat = pdf_text(client_for(w, "county").get(url(plan)).content, tmp_path)
    assert "危险废物管理计划备案回执" in flat
    assert plan.filing_number in flat
    assert "回执测试有限公司" in flat and "91350100M000100Y43" in flat and "一厂" in flat
    assert "2026-04-0100:30" in flat  # Asia/Shanghai, not UTC
    assert "逾期" in flat and "2026-03-31" in flat
    assert "重点监管单位" in flat
    for section in ("A.2设施信息", "A.3产生情况", "A.4贮存情况", "A.5自行利用/处置情况", "A.7转移情况"):
        assert section in flat
    assert "其他生产、销售、使用过程中产生的废矿物油" in flat  # the 名录 name filled in for the line
    assert "废油桶" in flat and "1.250" in flat
    assert "回执处置有限公司" in flat and "D10" in flat
    assert "HJ1259" in flat


@pytest.mark.skipif(not (HAS_POPPLER and HAS_ZBAR), reason="poppler-utils / zbar-tools not installed")
def test_receipt_qr_is_the_receipt_page(w: dict[str, Any], tmp_path: Path) -> None:
    plan = services.plan_file(actor=w["admin"], plan_id=w["plan"].id)
    (tmp_path / "r.pdf").write_bytes(client_for(w, "admin").get(url(plan)).content)
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", "-singlefile", str(tmp_path / "r.pdf"),
                    str(tmp_path / "r")], check=True)  # fmt: skip
    out = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "r.png")], capture_output=True, text=True)
    assert out.stdout.split() == [f"http://testserver/plans/{plan.id}/receipt/"]


@pytest.mark.skipif(not HAS_POPPLER, reason="poppler-utils not installed")
def test_long_receipt_breaks_pages_and_keeps_every_line(w: dict[str, Any], tmp_path: Path) -> None:
    plan = w["plan"]
    for i in range(60):
        measures = f"减量措施第{i + 1}项：" + "改进工艺" * 8
        services.plan_line_add(actor=w["admin"], plan_id=plan.id, section="A6", waste_code="900-249-08",
                               tonnes=Decimal(i + 1) / 100, measures=measures)  # fmt: skip
    plan = services.plan_file(actor=w["admin"], plan_id=plan.id)
    pdf = client_for(w, "admin").get(url(plan)).content
    (tmp_path / "long.pdf").write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(tmp_path / "long.pdf")], check=True, capture_output=True, text=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    assert pages >= 2
    flat = pdf_text(pdf, tmp_path)
    for i in range(60):
        assert f"减量措施第{i + 1}项" in flat
    assert f"第{pages}页" in flat


def test_changed_plan_has_no_receipt_until_filed_again(w: dict[str, Any]) -> None:
    plan = services.plan_file(actor=w["admin"], plan_id=w["plan"].id)
    services.plan_change(actor=w["admin"], plan_id=plan.id, reason="新增去向")
    assert client_for(w, "admin").get(url(plan)).status_code == 400
    services.plan_file(actor=w["admin"], plan_id=plan.id)
    assert client_for(w, "admin").get(url(plan)).status_code == 200
