"""Who performs an operation: a signed-in user, an API token's user, or the system itself (CLI, demo data)."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from app.models import Role
from app.services.errors import Forbidden


class Actor(Protocol):
    """What an operation needs to know of whoever acts: a ``User`` row, an ``ActingUser`` or ``SYSTEM``."""

    id: int | None
    role: Role
    retailer_id: int | None
    wholesaler_id: int | None


def order_limit(actor: Actor) -> Decimal | None:
    """The actor's per-order limit, above which its orders wait for an approver; None for none (or no user)."""
    return getattr(actor, "order_limit", None)


@dataclass(frozen=True)
class ActingUser:
    """A user as plain values read once, so no commit can expire them and no attribute reloads the user
    from the database later in the request (what an API token acts as)."""

    id: int | None
    role: Role
    retailer_id: int | None = None
    wholesaler_id: int | None = None
    #: A retailer's buyer's per-order limit (User.order_limit); None: orders of any size.
    order_limit: Decimal | None = None


#: The operators' commands and the demo loader: an admin that is no user, so audit events name no one.
SYSTEM = ActingUser(id=None, role=Role.ADMIN)


def is_system(actor: Actor) -> bool:
    return actor is SYSTEM


def require_role(actor: Actor, *roles: Role) -> None:
    """Raise Forbidden unless the actor has one of ``roles``."""
    if actor.role not in roles:
        raise Forbidden(f"This needs the {' or '.join(role.value for role in roles)} role.")
