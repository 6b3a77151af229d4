"""Pages: public ones render; role pages send each account to its own place; bad input is 4xx."""

from __future__ import annotations

import pytest
from django.test import Client

from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.accounts.testing import login as login_through_pages
from weifei.core.actors import SYSTEM
from weifei.registry.services import enterprise_create

pytestmark = pytest.mark.usefixtures("reference")
PASSWORD = "correct-horse-battery"


@pytest.fixture
def accounts() -> dict[str, str]:
    e1 = enterprise_create(
        actor=SYSTEM, credit_code="91350100M000100Y43", name="长春测试汽车零部件有限公司", region_key="220102"
    )
    enterprise_create(
        actor=SYSTEM, credit_code="91130200699229617X", name="梅河口测试制药有限公司", region_key="220581"
    )
    enterprise_create(actor=SYSTEM, credit_code="911302307808371268", name="通化测试医院", region_key="220502")
    regulator_account_create(
        actor=SYSTEM,
        username="sheng",
        password=PASSWORD,
        full_name="省厅",
        region_key="220000",
        department="固体废物与化学品处",
    )
    regulator_account_create(
        actor=SYSTEM,
        username="tonghua",
        password=PASSWORD,
        full_name="通化市局",
        region_key="220500",
        department="固体废物科",
    )
    enterprise_user_create(
        actor=SYSTEM, enterprise=e1, username="e1", password=PASSWORD, full_name="张三", role="admin"
    )
    return {"province": "sheng", "prefecture": "tonghua", "enterprise": "e1"}


def login(client: Client, username: str) -> None:
    """Through the login pages: regulators type their TOTP code as well (see accounts.testing)."""
    login_through_pages(client, username, PASSWORD)


def test_public_pages_render_in_chinese(client: Client) -> None:
    for url in ("/", "/catalog/", "/catalog/?q=飞灰", "/catalog/900-249-08/", "/login/"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert 'lang="zh-CN"' in r.content.decode()
    assert "772-002-18" in client.get("/catalog/?q=飞灰").content.decode()


def test_htmx_search_returns_the_results_fragment(client: Client) -> None:
    r = client.get("/catalog/", {"q": "铅蓄电池"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert r.status_code == 200 and "<html" not in body and "900-052-31" in body


@pytest.mark.parametrize(
    "url",
    [
        "/catalog/?page=abc",
        "/catalog/?category=HX1",
        "/catalog/?version=1999",
        "/catalog/?q=" + "废" * 60,
        "/catalog/999-999-99/",
        "/catalog/%00/",
        "/no-such-page/",
    ],
)
def test_bad_page_input_is_4xx_with_a_message(client: Client, url: str) -> None:
    r = client.get(url)
    assert 400 <= r.status_code < 500, (url, r.status_code)


def test_each_login_lands_on_its_page(client: Client, accounts: dict[str, str]) -> None:
    login(client, accounts["province"])
    assert client.get("/home/")["Location"] == "/dashboard/"
    page = client.get("/dashboard/").content.decode()
    assert "监管驾驶舱" in page and "吉林省" in page
    client.logout()
    login(client, accounts["enterprise"])
    assert client.get("/home/")["Location"] == "/enterprise/"
    assert "长春测试汽车零部件有限公司" in client.get("/enterprise/").content.decode()


def test_dashboard_figures_are_scoped_to_the_jurisdiction(client: Client, accounts: dict[str, str]) -> None:
    login(client, accounts["province"])
    total = client.get("/api/v1/stats/overview").json()
    assert total["enterprises_total"] == 3 and total["catalogue_codes"] == 467
    counts = {r["name"]: r["count"] for r in total["enterprises_per_prefecture"]}
    assert counts["长春市"] == 1 and counts["通化市"] == 2  # 梅河口 is coded under 通化
    client.logout()
    login(client, accounts["prefecture"])
    tonghua = client.get("/api/v1/stats/overview").json()
    assert tonghua["enterprises_total"] == 1  # 梅河口 is supervised by the province, not 通化
    assert client.get("/dashboard/").context["enterprise_total"] == 1


def test_role_pages_refuse_the_wrong_role(client: Client, accounts: dict[str, str]) -> None:
    assert client.get("/dashboard/").status_code == 302  # anonymous → login
    login(client, accounts["enterprise"])
    r = client.get("/dashboard/")
    assert r.status_code == 403 and "监管部门" in r.content.decode()
    client.logout()
    login(client, accounts["province"])
    assert client.get("/enterprise/").status_code == 403


def test_logout_is_post_only(client: Client, accounts: dict[str, str]) -> None:
    login(client, accounts["province"])
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/dashboard/").status_code == 302


def test_healthz_reports_database_and_broker(client: Client) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"]["ok"] is True
    assert body["broker"]["mode"] == "eager"
