"""The manifest lifecycle as a table: (state, event, acting role) → next state, with named guards.

Pure data and lookups, no database. ``weifei.manifests.services.manifest_transition`` resolves the
actor's roles on a manifest, finds the row here, runs the guards (``weifei.manifests.guards``) and
applies it; a triple that is not in the table is refused. The exhaustive test walks every
(state, event, role) triple.

Sources: 转移办法 第十条–第二十条 (regulations.md §2.3–§2.7). State and event names are weifei's
(the national system's are UNCONFIRMED). Decisions:

- The loading check (第十三条) is the guard set of ``pickup``, not a state: loading is refused
  (the manifest stays 待运输) unless the scanned labels equal the manifest's containers and the
  carrier, vehicle and crew permits are valid that day.
- 联运 (第十七条): ``hand_over`` is signed by the NEXT carrier (it confirms the previous leg and
  verifies the waste), so the previous carrier cannot skip ahead.
- A refused load is returned to the consignor (``return`` → ``confirm_return``) or redirected to
  another licensed receiver (``redirect``: a new leg, back to 运输中).
- Escalation: a party that never signs must not block the chain. A writing regulator over the
  region concerned may sign ``pickup``, ``hand_over``, ``arrive``, ``accept`` or ``close`` in its
  place, with a reason, once the manifest has waited in its state longer than
  ``MANIFEST_ESCALATION_WORKING_DAYS`` (guard ``escalation_due``).
- Cancellation only before pickup (``cancel`` from 草稿 and 待运输).
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import State


class Role:
    CONSIGNOR = "consignor"  # 移出人 (its admins and members)
    CARRIER = "carrier"  # the carrier of the current leg (admins, members and its drivers)
    NEXT_CARRIER = "next_carrier"  # the carrier of the next leg (联运)
    RECEIVER = "receiver"  # 接受人
    REGULATOR = "regulator"  # a writing regulator over the consignor's or the receiver's region
    SYSTEM = "system"

    ALL = ("consignor", "carrier", "next_carrier", "receiver", "regulator", "system")
    NAMES = {
        "consignor": "移出人",
        "carrier": "承运人",
        "next_carrier": "下一承运人",
        "receiver": "接受人",
        "regulator": "生态环境部门",
        "system": "系统",
    }


class Event:
    SUBMIT = "submit"
    CANCEL = "cancel"
    PICKUP = "pickup"
    HAND_OVER = "hand_over"
    ARRIVE = "arrive"
    ACCEPT = "accept"
    REPORT_DISCREPANCY = "report_discrepancy"
    ACCEPT_PARTIALLY = "accept_partially"
    REJECT = "reject"
    RETURN = "return"
    CONFIRM_RETURN = "confirm_return"
    REDIRECT = "redirect"
    TREAT = "treat"
    CLOSE = "close"

    ALL = (
        "submit", "cancel", "pickup", "hand_over", "arrive", "accept", "report_discrepancy",
        "accept_partially", "reject", "return", "confirm_return", "redirect", "treat", "close",
    )  # fmt: skip
    NAMES = {
        "submit": "提交",
        "cancel": "作废",
        "pickup": "装载签收",
        "hand_over": "联运交接",
        "arrive": "到达",
        "accept": "接受",
        "report_discrepancy": "报告差异",
        "accept_partially": "部分接受",
        "reject": "拒收",
        "return": "退回",
        "confirm_return": "确认退回",
        "redirect": "改运",
        "treat": "利用处置",
        "close": "闭环",
    }


@dataclass(frozen=True)
class Transition:
    state: str
    event: str
    role: str
    next_state: str
    guards: tuple[str, ...] = ()


S = State
R = Role
E = Event
ESCALATE = ("reason_given", "escalation_due")

TABLE: tuple[Transition, ...] = (
    Transition(S.DRAFT, E.SUBMIT, R.CONSIGNOR, S.SUBMITTED,
               ("has_lines", "has_legs", "codes_valid", "plan_covers", "receiver_licensed", "contract_valid",
                "approval_valid", "carrier_permits_valid")),
    Transition(S.DRAFT, E.CANCEL, R.CONSIGNOR, S.CANCELLED),
    Transition(S.SUBMITTED, E.CANCEL, R.CONSIGNOR, S.CANCELLED),
    # Loading check (第十三条): labels equal the manifest; carrier, vehicle and crew permits valid.
    Transition(S.SUBMITTED, E.PICKUP, R.CARRIER, S.IN_TRANSIT,
               ("labels_match", "carrier_permits_valid", "within_payload", "receiver_licensed", "approval_valid")),
    Transition(S.SUBMITTED, E.PICKUP, R.REGULATOR, S.IN_TRANSIT, ESCALATE),
    Transition(S.IN_TRANSIT, E.HAND_OVER, R.NEXT_CARRIER, S.IN_TRANSIT,
               ("has_next_leg", "handover_place_given", "next_carrier_permits_valid")),
    Transition(S.IN_TRANSIT, E.HAND_OVER, R.REGULATOR, S.IN_TRANSIT, ("has_next_leg", *ESCALATE)),
    Transition(S.IN_TRANSIT, E.ARRIVE, R.CARRIER, S.ARRIVED, ("on_last_leg",)),
    Transition(S.IN_TRANSIT, E.ARRIVE, R.RECEIVER, S.ARRIVED, ("on_last_leg",)),
    Transition(S.IN_TRANSIT, E.ARRIVE, R.REGULATOR, S.ARRIVED, ("on_last_leg", *ESCALATE)),
    Transition(S.ARRIVED, E.ACCEPT, R.RECEIVER, S.RECEIVED, ("weights_given", "within_tolerance")),
    Transition(S.ARRIVED, E.ACCEPT, R.REGULATOR, S.RECEIVED, ("weights_given", *ESCALATE)),
    Transition(S.ARRIVED, E.REPORT_DISCREPANCY, R.RECEIVER, S.DISCREPANCY, ("weights_given", "discrepancy_described")),
    Transition(S.ARRIVED, E.REJECT, R.RECEIVER, S.REJECTED, ("reason_given",)),
    Transition(S.DISCREPANCY, E.ACCEPT, R.RECEIVER, S.RECEIVED),
    Transition(S.DISCREPANCY, E.ACCEPT_PARTIALLY, R.RECEIVER, S.RECEIVED, ("refusal_valid",)),
    Transition(S.DISCREPANCY, E.REJECT, R.RECEIVER, S.REJECTED, ("reason_given",)),
    Transition(S.REJECTED, E.RETURN, R.CONSIGNOR, S.RETURNING),
    Transition(S.REJECTED, E.REDIRECT, R.CONSIGNOR, S.IN_TRANSIT, ("new_receiver_licensed",)),
    Transition(S.RETURNING, E.CONFIRM_RETURN, R.CONSIGNOR, S.RETURNED),
    Transition(S.RECEIVED, E.TREAT, R.RECEIVER, S.TREATED, ("method_valid",)),
    Transition(S.TREATED, E.CLOSE, R.CONSIGNOR, S.CLOSED),
    Transition(S.TREATED, E.CLOSE, R.SYSTEM, S.CLOSED, ("escalation_due",)),
    Transition(S.TREATED, E.CLOSE, R.REGULATOR, S.CLOSED, ESCALATE),
)  # fmt: skip

TERMINAL = frozenset({S.CLOSED, S.CANCELLED, S.RETURNED})
_INDEX: dict[tuple[str, str, str], Transition] = {(t.state, t.event, t.role): t for t in TABLE}
assert len(_INDEX) == len(TABLE), "a (state, event, role) triple appears twice in the table"


def transition_for(state: str, event: str, roles: frozenset[str]) -> Transition | None:
    """The table row for this state and event that one of ``roles`` may perform (the first in
    Role.ALL order), or None."""
    for role in Role.ALL:
        if role in roles:
            row = _INDEX.get((state, event, role))
            if row is not None:
                return row
    return None


def events_from(state: str) -> list[str]:
    """The events the table allows from a state, in table order (for pages and the API)."""
    seen: list[str] = []
    for t in TABLE:
        if t.state == state and t.event not in seen:
            seen.append(t.event)
    return seen
