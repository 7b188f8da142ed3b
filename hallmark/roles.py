"""Who may do what: the three roles an API key can have."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """An API key's role.

    ``admin`` runs the service (keys, catalog, sellers, serials); ``reviewer`` works the case queue;
    ``partner`` is a resale platform that checks images and sees only its own checks.
    """

    ADMIN = "admin"
    REVIEWER = "reviewer"
    PARTNER = "partner"


#: Roles that work the case queue; admins can do everything reviewers can.
STAFF: frozenset[Role] = frozenset({Role.ADMIN, Role.REVIEWER})
EVERYONE: frozenset[Role] = frozenset(Role)
ADMINS: frozenset[Role] = frozenset({Role.ADMIN})
