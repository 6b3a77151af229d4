"""zh-Hans is the default language; English is selectable and translated."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.usefixtures("reference")


def test_chinese_by_default(client: Client) -> None:
    body = client.get("/").content.decode()
    assert 'lang="zh-CN"' in body and "查询危险废物名录" in body


def test_english_is_selectable_and_translated(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/catalog/"})
    assert response.status_code == 302
    body = client.get("/catalog/?q=飞灰").content.decode()
    assert 'lang="en"' in body
    assert "Hazardous-waste catalogue" in body
    assert re.search(r"\b\d+ codes? found", body)
    assert "772-002-18" in body
    assert "Search the catalogue" in client.get("/").content.decode()


def test_english_by_accept_language(client: Client) -> None:
    body = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "User name" in body and "Password" in body
