"""Who is acting. Every selector and service takes an ``Actor``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ActorKind = Literal["public", "enterprise", "regulator", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user_id: int | None = None
    label: str = ""
    enterprise_ids: frozenset[int] = field(default_factory=frozenset)
    # (enterprise id, membership role) pairs: admin / member / driver / reader.
    memberships: frozenset[tuple[int, str]] = field(default_factory=frozenset)
    # Region codes a regulator supervises (by supervising authority, not statutory parent).
    region_codes: frozenset[str] = field(default_factory=frozenset)
    region_level: str = ""
    # Liaison accounts (transport, public security, emergency management) read, never write.
    read_only: bool = False

    @property
    def is_regulator(self) -> bool:
        return self.kind == "regulator"

    @property
    def is_public(self) -> bool:
        return self.kind == "public"

    def role_in(self, enterprise_id: int) -> str | None:
        """The actor's membership role in an enterprise, or None."""
        for eid, role in self.memberships:
            if eid == enterprise_id:
                return role
        return None


PUBLIC = Actor(kind="public", label="公众")
SYSTEM = Actor(kind="system", label="系统")
