"""Billing use cases, one public function per use case (see each module): invoices, payments, prices, and the
invoices of what other apps sell (sales)."""

from kabinet.billing.services.invoices import (
    LineInput,
    invoice_cancel,
    invoice_create,
    invoice_create_for_visit,
    invoice_discount_set,
    invoice_issue,
    invoice_line_add,
    invoice_line_remove,
    invoice_payer_set,
)
from kabinet.billing.services.payments import deposit_add, deposit_withdraw, payment_take, refund_make
from kabinet.billing.services.prices import (
    discount_create,
    discount_deactivate,
    price_list_create,
    price_list_set_prices,
    price_list_update,
)
from kabinet.billing.services.sales import sale_invoice_cancel, sale_invoice_create

__all__ = [
    "LineInput",
    "deposit_add",
    "deposit_withdraw",
    "discount_create",
    "discount_deactivate",
    "invoice_cancel",
    "invoice_create",
    "invoice_create_for_visit",
    "invoice_discount_set",
    "invoice_issue",
    "invoice_line_add",
    "invoice_line_remove",
    "invoice_payer_set",
    "payment_take",
    "price_list_create",
    "price_list_set_prices",
    "price_list_update",
    "refund_make",
    "sale_invoice_cancel",
    "sale_invoice_create",
]
