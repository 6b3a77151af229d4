"""Bad input to every API operation answers 4xx in the error envelope, never a 500.

The operations are enumerated from the OpenAPI document, so a new endpoint is covered the
moment it is added."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.usefixtures("reference")

GARBAGE = ["", "abc", "-1", "999999999999999999999", "2020-13-45", "９００", "'; DROP TABLE x;--", "\u0000", "HW42"]


def _operations(client: Client) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/api/v1/openapi.json").json()
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            ops.append((method, path, op))
    return ops


def _assert_envelope(response: Any, context: str) -> None:
    assert response.status_code < 500, f"{context}: {response.status_code} {response.content[:200]!r}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message", "field"}, f"{context}: {body}"
        assert body["code"] and body["message"], context


def test_the_spec_lists_the_operations_built_so_far(client: Client) -> None:
    paths = {p for _, p, _ in _operations(client)}
    assert {"/api/v1/catalog/codes", "/api/v1/catalog/validate", "/api/v1/stats/overview"} <= paths
    assert len(paths) >= 11


def test_every_operation_survives_garbage_parameters(client: Client) -> None:
    for method, path, op in _operations(client):
        params = [p for p in op.get("parameters", []) if p["in"] in ("query", "path")]
        for value in GARBAGE:
            url = path
            query: dict[str, str] = {}
            for p in params:
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", value or "x")
                else:
                    query[p["name"]] = value
            if method == "get":
                response = client.get(url, query)
            else:
                body = json.dumps({k: value for k in ("code", "date", "category", "value")})
                response = client.generic(method.upper(), url, body, content_type="application/json")
            _assert_envelope(response, f"{method.upper()} {url} {value!r}")


@pytest.mark.parametrize(
    "body", ["", "not json", "[]", "null", '{"code": 5}', '{"value": null}', "{}", '{"value": "9135\\u0000"}']
)
def test_post_bodies_that_are_not_the_schema(client: Client, body: str) -> None:
    for url in ("/api/v1/catalog/validate", "/api/v1/identifiers/credit-code"):
        response = client.post(url, body, content_type="application/json")
        assert 400 <= response.status_code < 500
        _assert_envelope(response, f"{url} {body!r}")


def test_validation_messages_name_the_field_in_chinese(client: Client) -> None:
    r = client.get("/api/v1/catalog/codes", {"limit": "abc"})
    assert r.status_code == 400
    assert r.json() == {"code": "validation_error", "message": "字段 limit：应为整数", "field": "limit"}
    r = client.post(
        "/api/v1/catalog/validate",
        {"code": "900-041-48", "date": "2022-06-01", "category": "HW49"},
        content_type="application/json",
    )
    assert r.status_code == 400
    assert r.json()["code"] == "waste_code_category_mismatch" and "HW49" in r.json()["message"]
    r = client.post("/api/v1/identifiers/credit-code", {"value": "91350100M000100Y4Z"}, content_type="application/json")
    assert r.status_code == 400 and r.json()["field"] == "value" and "统一社会信用代码" in r.json()["message"]
    r = client.get("/api/v1/catalog/codes/999-999-99")
    assert r.status_code == 404 and r.json()["code"] == "waste_code_not_listed"


def test_catalogue_api_happy_paths(client: Client) -> None:
    r = client.get("/api/v1/catalog/codes", {"q": "飞灰"})
    assert r.status_code == 200 and "772-002-18" in [i["code"] for i in r.json()["items"]]
    detail = client.get("/api/v1/catalog/codes/900-041-49").json()
    assert detail["hazards"] == ["T", "In"] and detail["hazard_names"] == {"T": "毒性", "In": "感染性"}
    assert any(e["seq"] == 24 for e in detail["exemptions"])
    ok = client.post(
        "/api/v1/catalog/validate", {"code": "900-000-49", "date": "2022-06-01"}, content_type="application/json"
    ).json()
    assert ok["identified"] is True and ok["category"] == "HW49"
    versions = client.get("/api/v1/catalog/versions").json()
    assert versions[0]["key"] == "2021" and versions[0]["code_count"] == 467
    assert len(client.get("/api/v1/catalog/categories").json()) == 46
    assert len(client.get("/api/v1/catalog/exemptions").json()) == 57
    assert len(client.get("/api/v1/catalog/methods").json()) == 27
    assert len(client.get("/api/v1/catalog/regions", {"level": "prefecture"}).json()) == 9
    cal = client.get("/api/v1/calendar/add-working-days", {"start": "2026-02-13", "n": "2"}).json()
    assert cal["result"] == "2026-02-24" and cal["authoritative"] is True
    between = client.get("/api/v1/calendar/working-days-between", {"a": "2026-02-13", "b": "2026-02-24"}).json()
    assert between["working_days"] == 2


def test_openapi_docs_page_uses_no_cdn(client: Client) -> None:
    html = client.get("/api/v1/docs").content.decode()
    assert "cdn." not in html and "jsdelivr" not in html
    assert "/static/ninja/" in html
