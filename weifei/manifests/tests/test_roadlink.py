"""Road-control links: created by a party or a regulator (token shown once, only its SHA-256
stored, an event recorded), open the PDF without login until they expire or are revoked."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from weifei.accounts.testing import force_login
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.models import Event as LogEvent
from weifei.manifests import roadlink
from weifei.manifests.models import RoadControlLink
from weifei.manifests.testing import World, world

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


@pytest.fixture
def w() -> World:
    return world()


def _client(w: World, name: str) -> Client:
    c = Client()
    force_login(c, w.users[name])
    return c


def test_service_create_resolve_expire_revoke(w: World) -> None:
    m = w.manifest()
    link, token = roadlink.road_link_create(actor=w.actor("driver1"), manifest_id=m.id)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in link.token_hash
    assert len(token) >= 40
    expected = timezone.now() + dt.timedelta(hours=72)
    assert abs((link.expires_at - expected).total_seconds()) < 60
    assert LogEvent.objects.filter(kind="manifest.road_link_created", subject_id=str(m.id)).count() == 1
    assert roadlink.road_link_resolve(token) == (m, "")
    assert roadlink.road_link_resolve(token + "x") == (None, "unknown")
    RoadControlLink.objects.filter(id=link.id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert roadlink.road_link_resolve(token) == (None, "expired")
    link2, token2 = roadlink.road_link_create(actor=w.actor("regulator"), manifest_id=m.id, hours=1)
    roadlink.road_link_revoke(actor=w.actor("consignor"), link_id=link2.id)
    assert roadlink.road_link_resolve(token2) == (None, "revoked")
    assert LogEvent.objects.filter(kind="manifest.road_link_revoked").count() == 1


def test_service_refusals(w: World) -> None:
    m = w.manifest()
    with pytest.raises(PermissionDenied):
        roadlink.road_link_create(actor=w.actor("consignor_reader"), manifest_id=m.id)
    with pytest.raises(NotFound):
        roadlink.road_link_create(actor=w.actor("receiver2"), manifest_id=m.id)
    with pytest.raises(NotFound):
        roadlink.road_link_create(actor=w.actor("regulator_elsewhere"), manifest_id=m.id)
    with pytest.raises(ApplicationError) as exc:
        roadlink.road_link_create(actor=w.actor("consignor"), manifest_id=m.id, hours=24 * 31)
    assert exc.value.code == "road_link_hours" and exc.value.field == "hours"
    assert not RoadControlLink.objects.exists()


def test_pages_link_until_expiry(w: World, tmp_path: Path) -> None:
    m = w.manifest()
    response = _client(w, "carrier1").post(f"/manifests/{m.id}/road-link/", {"hours": "72"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    url = re.search(r'data-testid="road-url"[^>]*>([^<]+)<', page).group(1)  # type: ignore[union-attr]
    assert url.startswith("http://testserver/manifests/road/") and 'data-testid="road-qr"' in page
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert RoadControlLink.objects.get().token_hash == hashlib.sha256(token.encode()).hexdigest()
    anonymous = Client()
    response = anonymous.get(f"/manifests/road/{token}/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    if shutil.which("zbarimg") and shutil.which("pdftoppm"):
        (tmp_path / "r.pdf").write_bytes(response.content)
        subprocess.run(["pdftoppm", "-r", "200", "-png", str(tmp_path / "r.pdf"), str(tmp_path / "p")], check=True)
        page_png = sorted(tmp_path.glob("p*.png"))[0]
        out = subprocess.run(["zbarimg", "--quiet", "--raw", str(page_png)], capture_output=True, text=True).stdout
        assert out.strip() == url  # the QR is the road-control link
    # frozen time: the link has expired
    RoadControlLink.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = anonymous.get(f"/manifests/road/{token}/")
    assert response.status_code == 410 and "已过有效期" in response.content.decode()
    assert anonymous.get("/manifests/road/not-a-token/").status_code == 404


def test_revoked_link_stops(w: World) -> None:
    m = w.manifest()
    link, token = roadlink.road_link_create(actor=w.actor("consignor"), manifest_id=m.id)
    assert Client().get(f"/manifests/road/{token}/").status_code == 200
    roadlink.road_link_revoke(actor=w.actor("receiver"), link_id=link.id)
    response = Client().get(f"/manifests/road/{token}/")
    assert response.status_code == 410 and "已被撤销" in response.content.decode()


def test_road_link_page_refusals(w: World) -> None:
    m = w.manifest()
    assert _client(w, "consignor_reader").post(f"/manifests/{m.id}/road-link/").status_code == 403
    assert _client(w, "receiver2").post(f"/manifests/{m.id}/road-link/").status_code == 404
    assert Client().post(f"/manifests/{m.id}/road-link/").status_code == 302
    response = _client(w, "consignor").post(f"/manifests/{m.id}/road-link/", {"hours": "9999"}, follow=True)
    assert any("有效期应为" in str(x) for x in response.context["messages"])
    assert not RoadControlLink.objects.exists()


def test_links_page_lists_without_tokens(w: World) -> None:
    m = w.manifest()
    valid, valid_token = roadlink.road_link_create(actor=w.actor("driver1"), manifest_id=m.id)
    expired, expired_token = roadlink.road_link_create(actor=w.actor("regulator"), manifest_id=m.id, hours=1)
    RoadControlLink.objects.filter(id=expired.id).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    revoked, revoked_token = roadlink.road_link_create(actor=w.actor("consignor"), manifest_id=m.id)
    roadlink.road_link_revoke(actor=w.actor("consignor"), link_id=revoked.id)
    other = w.manifest(containers=0, tonnes="0.1")
    roadlink.road_link_create(actor=w.actor("consignor"), manifest_id=other.id)
    # reachable from the detail page
    assert f"/manifests/{m.id}/road-links/" in _client(w, "consignor").get(f"/manifests/{m.id}/").content.decode()
    response = _client(w, "consignor").get(f"/manifests/{m.id}/road-links/")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    rows = re.findall(r'data-testid="road-link-row" data-link="(\d+)" data-status="(\w+)"', page)
    assert rows == [(str(revoked.id), "revoked"), (str(expired.id), "expired"), (str(valid.id), "valid")]
    assert "driver1" in page and "regulator" in page  # who created them
    for link, token in ((valid, valid_token), (expired, expired_token), (revoked, revoked_token)):
        assert token not in page and link.token_hash not in page
    # a revoke button for the valid link only
    assert f'data-testid="revoke-{valid.id}"' in page and f'data-testid="revoke-{expired.id}"' not in page
    # a reader sees the list but no buttons; a stranger and a regulator elsewhere get 404
    page = _client(w, "consignor_reader").get(f"/manifests/{m.id}/road-links/").content.decode()
    assert f'data-link="{valid.id}"' in page and 'data-testid="revoke-' not in page
    assert _client(w, "receiver2").get(f"/manifests/{m.id}/road-links/").status_code == 404
    assert _client(w, "regulator_elsewhere").get(f"/manifests/{m.id}/road-links/").status_code == 404
    assert Client().get(f"/manifests/{m.id}/road-links/").status_code == 302
    assert _client(w, "consignor").get("/manifests/99999999999999999999/road-links/").status_code == 404


def test_revoke_page_then_the_link_answers_410(w: World) -> None:
    m = w.manifest()
    link, token = roadlink.road_link_create(actor=w.actor("consignor"), manifest_id=m.id)
    assert Client().get(f"/manifests/road/{token}/").status_code == 200
    url = f"/manifests/{m.id}/road-links/{link.id}/revoke/"
    # CSRF-protected
    csrf = Client(enforce_csrf_checks=True)
    force_login(csrf, w.users["driver1"])
    assert csrf.post(url).status_code == 403
    # refusals write nothing: reader 403, stranger / regulator elsewhere 404, anonymous to login, GET 405
    assert _client(w, "consignor_reader").post(url).status_code == 403
    assert _client(w, "receiver2").post(url).status_code == 404
    assert _client(w, "regulator_elsewhere").post(url).status_code == 404
    assert Client().post(url).status_code == 302
    assert _client(w, "driver1").get(url).status_code == 405
    link.refresh_from_db()
    assert link.revoked_at is None
    assert not LogEvent.objects.filter(kind="manifest.road_link_revoked").exists()
    # the carrier's driver revokes it
    response = _client(w, "driver1").post(url, follow=True)
    assert response.redirect_chain[-1][0] == f"/manifests/{m.id}/road-links/"
    assert any("已撤销道路检查链接" in str(x) for x in response.context["messages"])
    assert f'data-link="{link.id}" data-status="revoked"' in response.content.decode()
    link.refresh_from_db()
    assert link.revoked_at is not None
    event = LogEvent.objects.get(kind="manifest.road_link_revoked")
    assert event.subject_id == str(m.id)
    response = Client().get(f"/manifests/road/{token}/")
    assert response.status_code == 410 and "已被撤销" in response.content.decode()
    # again: a message, no second event
    response = _client(w, "consignor").post(url, follow=True)
    assert any("此前已撤销" in str(x) for x in response.context["messages"])
    assert LogEvent.objects.filter(kind="manifest.road_link_revoked").count() == 1


def test_revoke_bad_ids_are_4xx(w: World) -> None:
    m = w.manifest()
    other = w.manifest(containers=0, tonnes="0.1")
    link, token = roadlink.road_link_create(actor=w.actor("consignor"), manifest_id=other.id)
    c = _client(w, "consignor")
    # a link of another manifest, an unknown link, ids out of range, not a number
    for url in (
        f"/manifests/{m.id}/road-links/{link.id}/revoke/",
        f"/manifests/{m.id}/road-links/999999/revoke/",
        f"/manifests/{m.id}/road-links/99999999999999999999/revoke/",
        f"/manifests/99999999999999999999/road-links/{link.id}/revoke/",
        f"/manifests/{m.id}/road-links/abc/revoke/",
    ):
        assert c.post(url).status_code == 404, url
    link.refresh_from_db()
    assert link.revoked_at is None and Client().get(f"/manifests/road/{token}/").status_code == 200
    # the service itself: unknown link → 404, a reader → 403, nothing written
    with pytest.raises(NotFound):
        roadlink.road_link_revoke(actor=w.actor("consignor"), link_id=999999)
    with pytest.raises(PermissionDenied):
        roadlink.road_link_revoke(actor=w.actor("consignor_reader"), link_id=link.id)
    with pytest.raises(NotFound):
        roadlink.road_link_revoke(actor=w.actor("receiver2"), link_id=link.id)
    link.refresh_from_db()
    assert link.revoked_at is None
