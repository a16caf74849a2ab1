"""Audit events: who changed what, with the state before and after; written in the caller's transaction."""

from typing import Any

from app.extensions import db
from app.models import AuditEvent
from app.services import clock


def record(*, actor_id: int | None, action: str, entity_type: str, entity_id: int | None,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    db.session.add(AuditEvent(actor_id=actor_id, action=action, entity_type=entity_type,
                              entity_id=entity_id, before=before, after=after, created_at=clock.now()))
