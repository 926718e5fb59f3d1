"""Audit routes: the signed head of the audit log, for auditors to anchor elsewhere."""

from __future__ import annotations

from fastapi import APIRouter

from deshi.audit import sign_head_for
from deshi.audit.models import AuditAnchorPublic
from deshi.web.deps import FactoryDep, PrincipalDep

router = APIRouter(prefix="/audit", tags=["audit"])

_PROBLEM = "application/problem+json"


@router.get(
    "/head",
    response_model=AuditAnchorPublic,
    responses={
        403: {
            "description": "The caller may read no department's audit log.",
            "content": {_PROBLEM: {}},
        },
        500: {
            "description": "`integrity_error`: the chain is broken; no head is signed.",
            "content": {_PROBLEM: {}},
        },
        503: {
            "description": "`unavailable`: no audit key is configured (DESHI_AUDIT_KEY).",
            "content": {_PROBLEM: {}},
        },
    },
)
def audit_head(factory: FactoryDep, principal: PrincipalDep) -> AuditAnchorPublic:
    """Verify the chain and return its head signed with the audit key: an anchor.

    Only the events after the remembered verified prefix are hashed (the prefix was verified by
    an earlier check and is pinned by this anchor's hash); `deshi audit verify` checks them all.

    For auditors, owners and admins. Keep the body elsewhere; `deshi audit verify --anchor`
    later proves the log was neither cut short nor rewritten up to it. It reads the log in a
    read-only transaction, so it holds no write lock while it hashes the chain.
    """
    with factory() as session:
        return AuditAnchorPublic.of(sign_head_for(session, principal))
