"""The inventory test world's shape: who has which role where, and their tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

from deshi.domain import Role

# user → (role, department "own" | "other" | None = workspace-wide)
USERS = {
    "workspace_admin": (Role.ADMIN, None),
    "admin": (Role.ADMIN, "own"),
    "owner": (Role.OWNER, "own"),
    "reviewer": (Role.REVIEWER, "own"),
    "auditor": (Role.AUDITOR, "own"),
    "other_owner": (Role.OWNER, "other"),
}


@dataclass
class Org:
    """Department ids and each user's token."""

    own_department: int = 0
    other_department: int = 0
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        """The Authorization header of a user."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}
