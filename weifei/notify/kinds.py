"""The event kinds that notifications and webhooks carry, and how a subject is named in a payload.

A kind is ``<subject>.<what happened>`` in lower-case snake case (``manifest.submitted``). The
catalogue below gives the Chinese label shown on the preference page; ``notify()`` accepts any
kind of that shape, so a capability can emit a new kind before it is listed here (its label is
then the kind itself).
"""

from __future__ import annotations

import re

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# A webhook's event filter may also name every kind of a subject: ``manifest.*``.
FILTER_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*$")
SUBJECT_REF_PATTERN = re.compile(r"^([a-z][a-z0-9_]*):([^\s]{1,80})$")

KINDS: dict[str, str] = {
    # 转移联单: one kind per hand-off of the lifecycle (weifei.manifests.lifecycle)
    "manifest.submitted": "联单已提交（待运输）",
    "manifest.cancelled": "联单已作废",
    "manifest.picked_up": "联单已装载签收（运输中）",
    "manifest.handed_over": "联运交接",
    "manifest.arrived": "废物已到达",
    "manifest.received": "接受人已接收",
    "manifest.discrepancy_reported": "接受人报告差异",
    "manifest.partially_accepted": "接受人部分接受",
    "manifest.rejected": "接受人拒收",
    "manifest.returned": "退回",
    "manifest.redirected": "改运",
    "manifest.treated": "已利用处置",
    "manifest.closed": "联单已闭环",
    "manifest.revision_requested": "联单修改申请",
    "manifest.revision_decided": "联单修改申请已处理",
    "manifest.overdue": "联单逾期",
    # 跨省转移商请
    "approval.submitted": "跨省转移申请已提交",
    "approval.decided": "跨省转移申请已决定",
    # this app's own
    "webhook.disabled": "Webhook 因连续投递失败被停用",
    "webhook.test": "Webhook 测试事件",
}

# Kinds that never go to webhooks: they are about the webhook itself.
INTERNAL_KINDS = frozenset({"webhook.disabled", "webhook.test"})

# The payload key naming the subject, per subject type. The issue fixes the manifest payload as
# ``{"event", "manifest_number"}``; other subjects use ``<type>_number`` when they have a number,
# and ``ref`` (the whole subject reference) otherwise.
SUBJECT_KEYS: dict[str, str] = {"manifest": "manifest_number", "approval": "approval_number"}


def kind_label(kind: str) -> str:
    return KINDS.get(kind, kind)


def subject_parts(subject_ref: str) -> tuple[str, str]:
    match = SUBJECT_REF_PATTERN.match(subject_ref)
    if match is None:
        raise ValueError(f"subject_ref should be '<type>:<identifier>', got {subject_ref!r}")
    return match.group(1), match.group(2)


def payload_for(event: str, subject_ref: str) -> dict[str, str]:
    """The minimal webhook payload: the event kind and the subject's public identifier."""
    subject_type, value = subject_parts(subject_ref)
    key = SUBJECT_KEYS.get(subject_type)
    if key is None:
        return {"event": event, "ref": subject_ref}
    return {"event": event, key: value}


def filter_matches(filters: list[str], event: str) -> bool:
    """An empty filter takes every kind; ``manifest.*`` takes every manifest kind."""
    if not filters:
        return True
    for item in filters:
        if item == event:
            return True
        if item.endswith(".*") and event.startswith(item[:-1]):
            return True
    return False
