"""Who may do what in billing. Every staff role reads invoices (doctors see what their patients were billed);
only the desk that handles money — administrators and registrars (kabinet has no separate cashier role) — creates
invoices, takes payments and refunds and sees the cash report; administrators alone edit prices and discounts.
Patients read their own and their wards' invoices and balances in the portal, and change nothing."""

from __future__ import annotations

from typing import Any

from kabinet.core import permissions
from kabinet.core.models import Organisation, Role

WRITE_ROLES = (Role.ADMIN, Role.REGISTRAR)
PRICE_ROLES = (Role.ADMIN,)


def can_write(user: Any, organisation: Organisation | int | None) -> bool:
    return permissions.has_role(user, organisation, *WRITE_ROLES)


def can_manage_prices(user: Any, organisation: Organisation | int | None) -> bool:
    return permissions.has_role(user, organisation, *PRICE_ROLES)


def require_write(user: Any, organisation: Organisation | int | None) -> None:
    permissions.require_role(user, organisation, *WRITE_ROLES)


def require_prices(user: Any, organisation: Organisation | int | None) -> None:
    permissions.require_role(user, organisation, *PRICE_ROLES)
