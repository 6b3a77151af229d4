"""``core.fastsql``: the hand-written statements of the hot paths give exactly what the ORM gives
(every field, converters applied, related rows attached), write what ``save()`` would write, and
the in-flight sums of the manifest guards equal the ORM aggregate they replaced."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, models
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from weifei.accounts.models import ApiToken, IdempotencyRecord
from weifei.accounts.services import api_token_create
from weifei.core import fastsql
from weifei.core.events import event_record
from weifei.core.models import EventStream
from weifei.manifests import guards
from weifei.manifests.lifecycle import Event
from weifei.manifests.models import Manifest, ManifestContainer, ManifestLeg, ManifestLine, Signature
from weifei.manifests.services import manifest_transition
from weifei.manifests.testing import World, world
from weifei.registry.models import Licence, LicenceScope

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


def _values(obj: models.Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _flowing(w: World) -> list[Manifest]:
    """Manifests in several states, with containers, on two receivers."""
    out = []
    for receiver, containers in ((w.receiver, 2), (w.receiver2, 0), (w.receiver, 0)):
        m = w.manifest(containers=containers, tonnes=None if containers else "1.25", receiver_id=receiver.id)
        manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event=Event.SUBMIT)
        out.append(m)
    manifest_transition(
        actor=w.actor("driver1"),
        manifest_id=out[0].id,
        event=Event.PICKUP,
        payload={"scanned_labels": w.containers[:2]},
    )
    return out


def test_select_gives_the_orm_instances() -> None:
    w = world()
    ms = _flowing(w)
    for model, where, params in (
        (Manifest, "id = %s", [ms[0].id]),
        (ManifestLine, "manifest_id = %s", [ms[0].id]),
        (Licence, "holder_id = %s", [w.receiver.id]),
        (LicenceScope, "licence_id IN (SELECT id FROM registry_licence)", []),
        (Signature, "manifest_id = %s", [ms[0].id]),
    ):
        fast = fastsql.select(model, where, params, order_by="id")
        orm = list(model.objects.filter(id__in=[x.pk for x in fast]).order_by("id"))
        assert fast and [_values(x) for x in fast] == [_values(x) for x in orm], model.__name__
        assert all(not x._state.adding and x._state.db == "default" for x in fast)
    m = fastsql.select_one(Manifest, "id = %s", [ms[0].id])
    assert m is not None and isinstance(m.state_changed_at, dt.datetime) and m.state_changed_at.tzinfo is not None
    assert isinstance(fastsql.select(ManifestLine, "manifest_id = %s", [ms[0].id])[0].declared_tonnes, Decimal)
    assert fastsql.select_one(Manifest, "id = %s", [0]) is None


def test_related_rows_are_attached_and_a_missing_one_is_none() -> None:
    w = world()
    m = _flowing(w)[0]
    ManifestLeg.objects.filter(manifest_id=m.id).update(vehicle=None)
    legs = fastsql.select(
        ManifestLeg, "t0.manifest_id = %s", [m.id], related=("carrier", "vehicle", "driver"), order_by='t0."order"'
    )
    with CaptureQueriesContext(connection) as after:
        assert [leg.carrier.name for leg in legs] == [w.carrier1.name]
        assert legs[0].vehicle is None and legs[0].driver == w.drivers["c1"]
        assert _values(legs[0].driver) == _values(w.drivers["c1"])
    assert len(after) == 0  # nothing loaded lazily
    containers = fastsql.select(ManifestContainer, "t0.manifest_id = %s", [m.id], related=("line",))
    assert {c.label_code for c in containers} == set(w.containers[:2])
    assert all(_values(c.line) == _values(ManifestLine.objects.get(id=c.line_id)) for c in containers)


def test_token_with_user_and_organisation_in_one_statement() -> None:
    w = world()
    token, _plaintext = api_token_create(actor=w.actor("consignor"), name="t", scopes=["read", "write"])
    with CaptureQueriesContext(connection) as q:
        fast = fastsql.select_one(ApiToken, "t0.id = %s", [token.pk], related=("user", "organisation"))
        assert fast is not None and fast.user.username == "m_consignor" and fast.organisation is None
    assert len(q) == 1
    assert _values(fast) == _values(ApiToken.objects.get(id=token.pk))


def test_in_bulk_and_for_update() -> None:
    w = world()
    got = fastsql.in_bulk(type(w.consignor), [w.consignor.id, w.receiver.id, w.consignor.id])
    assert set(got) == {w.consignor.id, w.receiver.id} and got[w.receiver.id].name == w.receiver.name
    assert fastsql.in_bulk(type(w.consignor), []) == {}
    with CaptureQueriesContext(connection) as q:
        fastsql.select_one(Manifest, "id = %s", [1], for_update=True)
    if connection.features.has_select_for_update:
        assert q.captured_queries[0]["sql"].rstrip().endswith("FOR UPDATE")


def test_update_writes_the_named_fields_or_all_as_save_would() -> None:
    w = world()
    m = _flowing(w)[1]
    line = ManifestLine.objects.get(manifest_id=m.id)
    line.received_tonnes, line.common_name = Decimal("1.200001"), "not written"
    fastsql.update(line, ["received_tonnes"])
    again = ManifestLine.objects.get(id=line.id)
    assert again.received_tonnes == Decimal("1.200001") and again.common_name == ""

    before = Manifest.objects.get(id=m.id)
    m2 = Manifest.objects.get(id=m.id)
    m2.treatment_result, m2.discrepancy, m2.warnings = "结果", {"kinds": ["quantity"]}, ["w"]
    fastsql.update(m2)
    after = Manifest.objects.get(id=m.id)
    assert (after.treatment_result, after.discrepancy, after.warnings) == ("结果", {"kinds": ["quantity"]}, ["w"])
    assert after.updated_at > before.updated_at  # auto_now, as save() does
    assert after.created_at == before.created_at

    with pytest.raises(ValueError):
        fastsql.update(line, ["no_such_field"])
    gone = ManifestLine(id=10**9, manifest_id=m.id, waste_code="x", declared_tonnes=Decimal(1))
    with pytest.raises(ManifestLine.DoesNotExist):
        fastsql.update(gone, ["received_tonnes"])


def test_insert_sets_the_key_and_the_automatic_times() -> None:
    now = timezone.now()
    record = fastsql.insert(
        IdempotencyRecord(owner="o", key="k", method="POST", path="/api/", body_hash="h", created_at=now)
    )
    assert record.pk is not None and not record._state.adding
    stored = IdempotencyRecord.objects.get(pk=record.pk)
    assert (stored.owner, stored.status_code, bytes(stored.response_body), stored.created_at) == ("o", 0, b"", now)
    record.status_code, record.response_body = 201, b'{"ok": 1}'
    fastsql.update(record, ["status_code", "response_body"])
    stored = IdempotencyRecord.objects.get(pk=record.pk)
    assert (stored.status_code, bytes(stored.response_body)) == (201, b'{"ok": 1}')
    with pytest.raises(ValueError):
        fastsql.insert(record)


def test_event_append_continues_the_stream_head_read_by_fastsql() -> None:
    from django.db import transaction

    w = world()
    _flowing(w)
    head = EventStream.objects.get(key=f"org:{w.consignor.id}")
    with transaction.atomic():
        event = event_record(subject=w.consignor, actor=w.actor("consignor"), kind="test.fastsql")
    assert event.seq == head.head_seq + 1 and event.prev_hash == head.head_hash
    assert EventStream.objects.get(key=head.key).head_hash == event.hash


def _orm_counted(year: int, exclude: int, **where: Any) -> Decimal:
    """The ORM aggregate ``guards._counted_tonnes`` replaced (kept here as the reference)."""
    qs = ManifestLine.objects.filter(
        manifest__state__in=guards.COUNTING, manifest__created_at__year=year, **where
    ).exclude(manifest_id=exclude)
    return qs.aggregate(t=Sum("declared_tonnes"))["t"] or Decimal(0)


def test_counted_tonnes_equal_the_orm_aggregate() -> None:
    w = world()
    ms = _flowing(w)
    year = timezone.localdate().year
    checked = 0
    for receiver in (w.receiver, w.receiver2):
        for exclude in (0, ms[0].id, ms[2].id):
            for kw, orm_kw in (
                ({}, {}),
                ({"code": "900-249-08"}, {"waste_code": "900-249-08"}),
                ({"category": "HW08"}, {"category": "HW08"}),
                ({"category": "HW49"}, {"category": "HW49"}),
                ({"site_id": w.site.id, "code": "900-249-08"}, {"manifest__consignor_site_id": w.site.id,
                                                                 "waste_code": "900-249-08"}),
            ):  # fmt: skip
                fast = guards._counted_tonnes(year, exclude, receiver_id=receiver.id, **kw)
                assert fast == _orm_counted(year, exclude, manifest__receiver_id=receiver.id, **orm_kw)
                checked += fast > 0
    assert checked >= 10  # the sums compared are not all zero
    assert guards._counted_tonnes(year - 1, 0, receiver_id=w.receiver.id) == 0


def test_insert_many_in_one_statement_keys_in_order() -> None:
    from weifei.notify.models import Notification

    w = world()
    users = [w.users[n] for n in ("consignor", "receiver", "carrier1")]
    rows = [
        Notification(user_id=u.id, organisation_id=None, event="manifest.submitted", subject_ref=f"manifest:{i}",
                     title=f"t{i}", link="/", actor_label="x", data={"i": i}, created_at=timezone.now())
        for i, u in enumerate(users)
    ]  # fmt: skip
    with CaptureQueriesContext(connection) as q:
        fastsql.insert_many(rows)
    assert len(q) == 1
    assert all(r.pk is not None for r in rows)
    for r in rows:
        stored = Notification.objects.get(pk=r.pk)
        assert (stored.user_id, stored.subject_ref, stored.data) == (r.user_id, r.subject_ref, r.data)
    assert fastsql.insert_many([]) == []
    with pytest.raises(ValueError):
        fastsql.insert_many([rows[0]])  # already has its key
