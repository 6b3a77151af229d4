"""The lifecycle table, exhaustively: every (state, event, acting role) triple either reaches the
table's next state or is refused with an error and writes nothing; plus the table's own shape."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError
from weifei.core.models import Event as LogEvent
from weifei.manifests import lifecycle
from weifei.manifests.lifecycle import Event, Role
from weifei.manifests.models import Manifest, Signature, State
from weifei.manifests.services import manifest_transition, roles_of
from weifei.manifests.testing import World, world

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


def test_table_shape() -> None:
    states = {t.state for t in lifecycle.TABLE} | {t.next_state for t in lifecycle.TABLE}
    assert states == set(State.values), "every state is reachable or left by the table"
    assert {t.event for t in lifecycle.TABLE} == set(Event.ALL)
    assert not any(t.state in lifecycle.TERMINAL for t in lifecycle.TABLE), "terminal states have no way out"
    # cancellation only before pickup
    assert {t.state for t in lifecycle.TABLE if t.event == Event.CANCEL} == {State.DRAFT, State.SUBMITTED}
    # every regulator row is an escalation that needs a reason and the waiting time
    assert all({"reason_given", "escalation_due"} <= set(t.guards) for t in lifecycle.TABLE if t.role == Role.REGULATOR)


def _at(w: World, state: str, *, last_leg: bool) -> Manifest:
    """A manifest put into ``state`` directly (the exhaustive test is about the table, not the path):
    two legs; in transit on the first (or the last) leg; weighed lines from 已到达 on; waited long
    enough for escalation."""
    m = w.manifest(legs=2, containers=0, tonnes="0.4")
    now = timezone.now()
    legs = list(m.legs.order_by("order"))
    picked = state not in (State.DRAFT, State.SUBMITTED, State.CANCELLED)
    if picked:
        legs[0].picked_up_at = now - dt.timedelta(days=12)
        legs[0].save()
    if picked and (last_leg or state != State.IN_TRANSIT):
        legs[0].handover_at = legs[1].picked_up_at = now - dt.timedelta(days=11)
        legs[0].handover_place = "长春东收费站"
        legs[0].save()
        legs[1].save()
    if state in (State.DISCREPANCY, State.RECEIVED, State.TREATED, State.CLOSED, State.REJECTED):
        for line in m.lines.all():
            line.received_tonnes = line.declared_tonnes
            line.save()
    Manifest.objects.filter(id=m.id).update(state=state, state_changed_at=now - dt.timedelta(days=30))
    return Manifest.objects.get(id=m.id)


def _payload(w: World, m: Manifest) -> dict[str, Any]:
    """A payload satisfying every guard (so a table row can only fail for its table reason)."""
    return {
        "scanned_labels": list(m.containers.values_list("label_code", flat=True)),
        "handover_place": "长春东收费站",
        "weights": {str(line.id): str(line.declared_tonnes) for line in m.lines.all()},
        "kinds": ["packaging"],
        "description": "两桶外包装破损",
        "refused_tonnes": "0.1",
        "reason": "测试理由",
        "receiver_id": w.receiver2.id,
        "carrier_id": w.carrier1.id,
        "method_code": "D10",
        "result": "焚烧处置完毕",
    }


def _actors(w: World, state: str, last_leg: bool) -> dict[str, Actor]:
    on_leg2 = last_leg or state not in (State.DRAFT, State.SUBMITTED, State.IN_TRANSIT, State.CANCELLED)
    return {
        Role.CONSIGNOR: w.actor("consignor"),
        Role.CARRIER: w.actor("carrier2" if on_leg2 else "driver1"),
        Role.NEXT_CARRIER: w.actor("carrier2"),
        Role.RECEIVER: w.actor("receiver"),
        Role.REGULATOR: w.actor("regulator"),
        Role.SYSTEM: SYSTEM,
    }


def test_every_state_event_role_triple() -> None:
    w = world()
    outcomes: dict[str, int] = {"moved": 0, "refused": 0}
    variants = {(s, last): _at(w, s, last_leg=last) for s in State.values for last in (False, True)}
    for state, event, role in itertools.product(State.values, Event.ALL, Role.ALL):
        last = state == State.IN_TRANSIT and event == Event.ARRIVE
        m = variants[(state, last)]
        actor = _actors(w, state, last)[role]
        row = lifecycle._INDEX.get((state, event, role))
        if roles_of(actor, m) != frozenset({role}):
            # Nobody holds this role here (e.g. a next carrier on the last leg): try as a stranger.
            assert row is None, (state, event, role)
            actor = w.actor("receiver2")
            assert roles_of(actor, m) == frozenset()
        signatures, events = Signature.objects.count(), LogEvent.objects.count()
        with transaction.atomic():
            try:
                after = manifest_transition(actor=actor, manifest_id=m.id, event=event, payload=_payload(w, m))
            except ApplicationError as exc:
                assert row is None, (state, event, role, exc.code, exc.message)
                assert exc.status in (403, 409), (state, event, role, exc.code)
                assert (Signature.objects.count(), LogEvent.objects.count()) == (signatures, events)
                outcomes["refused"] += 1
            else:
                assert row is not None, f"{state} {event} {role} moved without a table row"
                assert after.state == row.next_state, (state, event, role)
                sig = Signature.objects.get(manifest=m, event=event)
                assert (sig.role, sig.from_state, sig.to_state) == (role, state, row.next_state)
                assert len(sig.content_hash) == 64
                assert LogEvent.objects.filter(kind=f"manifest.{event}").exists()
                outcomes["moved"] += 1
            transaction.set_rollback(True)
    total = len(State.values) * len(Event.ALL) * len(Role.ALL)
    assert outcomes["moved"] + outcomes["refused"] == total
    assert outcomes["moved"] == len(lifecycle.TABLE)


def test_strangers_and_readers_hold_no_role() -> None:
    w = world()
    m = w.manifest()
    assert roles_of(w.actor("consignor_reader"), m) == frozenset()
    assert roles_of(w.actor("regulator_elsewhere"), m) == frozenset()
    assert roles_of(w.actor("receiver2"), m) == frozenset()
    with pytest.raises(ApplicationError) as exc:
        manifest_transition(actor=w.actor("receiver2"), manifest_id=m.id, event=Event.SUBMIT)
    assert exc.value.status == 403
    with pytest.raises(ApplicationError) as exc:
        manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event="teleport")
    assert exc.value.code == "event_unknown"
