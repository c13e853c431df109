"""Rules on player records shared by the v1 and v2 player services (ids are shared between them)."""

from __future__ import annotations

from services._errors import already_exists, failed_precondition, invalid_argument
from services.state import PlayerRecord, World

__all__ = ["PURGE_DELAY_SECONDS", "check_email", "check_mutable", "listable", "new_record"]

PURGE_DELAY_SECONDS = 30 * 24 * 3600  # deleted accounts are erased for good after 30 days
_ACTIVE, _SUSPENDED, _DELETED = 1, 2, 3


def new_record(world: World) -> PlayerRecord:
    """An empty, active record with a fresh id and creation time; the caller fills it and stores it."""
    now = world.now()
    return PlayerRecord(
        player_id=world.new_id("pl"), create_time=now, update_time=now, last_activity_time=now
    )


def check_email(world: World, email: str, field_name: str, player_id: str = "") -> None:
    """Reject a malformed e-mail address, or one another live account already uses.

    The message never repeats the address: error messages end up in logs.
    """
    if not email:
        return
    local, _, domain = email.partition("@")
    if not local or "." not in domain:
        raise invalid_argument(field_name, "is not an e-mail address")
    for other in world.players.values():
        if other.player_id != player_id and other.state != _DELETED and other.email.lower() == email.lower():
            raise already_exists(f"a player with this {field_name} already exists: {other.player_id}")


def check_mutable(record: PlayerRecord) -> None:
    """Deleted accounts cannot be changed."""
    if record.state == _DELETED:
        raise failed_precondition(f'player "{record.player_id}" is deleted and cannot be changed')


def listable(record: PlayerRecord, state: int) -> bool:
    """Whether ``record`` passes a listing's state filter (unspecified: active and suspended)."""
    if state:
        return record.state == state
    return record.state in (_ACTIVE, _SUSPENDED)
