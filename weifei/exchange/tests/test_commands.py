"""``weifei import``, ``weifei export``, ``weifei exchange-template`` (and the API endpoint)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import api_token_create, enterprise_user_create
from weifei.core.actors import SYSTEM
from weifei.core.models import Event
from weifei.registry.models import Enterprise, Vehicle

from .conftest import World, enterprise, export_text, jsonl, vehicle

pytestmark = pytest.mark.usefixtures("reference")


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_import_command_is_named_import(tmp_path: Path) -> None:
    path = tmp_path / "units.jsonl"
    path.write_text(jsonl(enterprise(1), enterprise(2)), encoding="utf-8")
    output = _call("import", str(path))
    assert "单位 新建 2、更新 0、未变 0" in output and Enterprise.objects.count() == 2
    assert "未变 2" in _call("import", str(path))
    report = json.loads(_call("import", str(path), "--json"))
    assert report["counts"] == {"enterprise": {"created": 0, "updated": 0, "unchanged": 2}}
    assert report["refused"] is False and report["errors"] == []


def test_a_refused_file_exits_1_listing_every_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(jsonl(enterprise(1, region="999999"), enterprise(2), '{"type": "truck"'), encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import", str(path), stdout=out)
    assert exc.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "第 1 行 region：行政区域 999999 不存在 (region_not_found)"
    assert lines[1].startswith("第 3 行：不是有效的 JSON")
    assert lines[2].startswith("文件未导入：共 2 处错误")
    assert Enterprise.objects.count() == 0
    with pytest.raises(CommandError) as exc:
        call_command("import", str(path), "--partial", stdout=io.StringIO())
    assert exc.value.returncode == 2 and Enterprise.objects.count() == 1
    with pytest.raises(CommandError, match="无法读取"):
        call_command("import", str(tmp_path / "missing.jsonl"))


def test_import_as_a_user(world: World, tmp_path: Path) -> None:
    enterprise_user_create(
        actor=SYSTEM,
        enterprise=world.carrier,
        username="yunshu",
        password="x-long-password-9",
        full_name="钱",
        role="admin",
    )
    path = tmp_path / "vehicles.jsonl"
    path.write_text(jsonl(vehicle(world.carrier.credit_code, "吉E12345")), encoding="utf-8")
    assert "运输车辆 新建 1" in _call("import", str(path), "--as", "yunshu")
    assert Vehicle.objects.get(plate="吉E12345").registration == "pending"
    with pytest.raises(CommandError, match="不存在或已停用"):
        call_command("import", str(path), "--as", "nobody")


def test_export_command_writes_json_lines_and_excel(world: World, tmp_path: Path) -> None:
    target = tmp_path / "all.jsonl"
    assert "已导出到" in _call("export", "--all", "--output", str(target))
    assert target.read_text(encoding="utf-8") == export_text()
    assert _call("export", "--type", "vehicle") == export_text(types=["vehicle"])
    workbook = tmp_path / "registry.xlsx"
    _call("export", "--type", "enterprise", "--type", "site", "--output", str(workbook))
    assert workbook.read_bytes()[:4] == b"PK\x03\x04"
    with pytest.raises(CommandError, match="--type"):
        call_command("export")


def test_exchange_template_command(tmp_path: Path) -> None:
    target = tmp_path / "registry.xlsx"
    assert "已生成模板" in _call("exchange_template", "--output", str(target), "--type", "vehicle")
    from openpyxl import load_workbook

    assert load_workbook(target).sheetnames == ["说明", "vehicle"]


# --------------------------------------------------------------------------------------------
# POST /api/v1/exchange/import
# --------------------------------------------------------------------------------------------


def _token(world: World) -> dict[str, Any]:
    user = enterprise_user_create(
        actor=SYSTEM,
        enterprise=world.carrier,
        username="api-carrier",
        password="x-long-password-8",
        full_name="孙",
        role="admin",
    ).user
    _token_row, text = api_token_create(actor=actor_for(user), name="导入", scopes=["read", "write"])
    return {"HTTP_AUTHORIZATION": f"Bearer {text}"}


def test_api_import_json_lines_body(world: World) -> None:
    client, auth = Client(), _token(world)
    body = jsonl(vehicle(world.carrier.credit_code, "吉F12345"))
    response = client.post("/api/v1/exchange/import?dry_run=true", body, content_type="application/x-ndjson", **auth)
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["counts"] == {"vehicle": {"created": 1, "updated": 0, "unchanged": 0}}
    assert report["dry_run"] is True and report["applied"] is False
    assert not Vehicle.objects.filter(plate="吉F12345").exists()
    response = client.post("/api/v1/exchange/import", body, content_type="application/x-ndjson", **auth)
    assert response.status_code == 200 and response.json()["applied"] is True
    assert Vehicle.objects.get(plate="吉F12345").registration == "pending"


def test_api_refusal_lists_every_error_in_the_envelope(world: World) -> None:
    client, auth = Client(), _token(world)
    upload = io.BytesIO(
        jsonl(vehicle(world.carrier.credit_code, "吉F1"), vehicle(world.operator.credit_code, "吉F54321")).encode()
    )
    upload.name = "vehicles.jsonl"
    events = Event.objects.count()
    response = client.post("/api/v1/exchange/import", {"file": upload}, **auth)
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"code", "message", "field", "errors"}
    assert body["code"] == "import_refused" and body["field"] is None
    assert [(e["line"], e["field"], e["code"]) for e in body["errors"]] == [
        (1, "plate", "plate_format"),
        (2, "carrier", "reference_not_found"),
    ]
    assert Event.objects.count() == events


def test_api_import_needs_a_caller_and_a_file(world: World) -> None:
    client = Client()
    response = client.post("/api/v1/exchange/import", "x", content_type="application/x-ndjson")
    assert response.status_code == 401
    response = client.post("/api/v1/exchange/import", "", content_type="application/x-ndjson", **_token(world))
    assert response.status_code == 400 and response.json()["code"] == "file_required"
