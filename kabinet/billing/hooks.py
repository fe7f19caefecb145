"""Hooks that apps selling through billing register at start-up, to follow what happens to their invoices. Billing
never imports those apps (and sends no Django signals: a hook runs inside the change's transaction, so what it
writes commits or rolls back with the payment).

Consultations registers in its AppConfig.ready():

    register_invoice_hook("consultations", on_invoice_changed)

`hook(invoice, actor=...)` runs after an invoice's money or status changed and was saved — issued, paid (in part
or in full, by any method, the deposit included), refunded, or cancelled by a credit note. It reads the invoice's
`status` and `paid_amount` and must be idempotent: it may see the same state twice. An exception in a hook fails
the payment, so keep hooks small and let them decide quickly that the invoice is not theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

InvoiceHook = Callable[..., None]

_invoice_hooks: dict[str, InvoiceHook] = {}


def register_invoice_hook(name: str, hook: InvoiceHook) -> None:
    _invoice_hooks[name] = hook


def invoice_changed(invoice: Any, *, actor: Any) -> None:
    """Called by billing's services inside the change's transaction, after saving the invoice."""
    for hook in list(_invoice_hooks.values()):
        hook(invoice, actor=actor)
