"""Billing pages, mounted at /billing/."""

from django.urls import path

from kabinet.billing.views import invoices, prices, reports

app_name = "billing"

urlpatterns = [
    path("invoices/", invoices.invoice_list, name="invoices"),
    path("invoices/<int:invoice_id>/", invoices.invoice_detail, name="invoice"),
    path("invoices/<int:invoice_id>/pdf/", invoices.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:invoice_id>/lines/", invoices.line_add, name="line_add"),
    path("invoices/<int:invoice_id>/lines/<int:line_id>/remove/", invoices.line_remove, name="line_remove"),
    path("invoices/<int:invoice_id>/discount/", invoices.discount, name="discount"),
    path("invoices/<int:invoice_id>/payer/", invoices.payer, name="payer"),
    path("invoices/<int:invoice_id>/issue/", invoices.issue, name="issue"),
    path("invoices/<int:invoice_id>/payments/", invoices.pay, name="pay"),
    path("invoices/<int:invoice_id>/refunds/", invoices.refund, name="refund"),
    path("invoices/<int:invoice_id>/cancel/", invoices.cancel, name="cancel"),
    path("checkout/<int:appointment_id>/", invoices.checkout, name="checkout"),
    path("checkout/<int:appointment_id>/invoice/", invoices.checkout_create, name="checkout_create"),
    path("patients/<int:patient_id>/deposit/", invoices.deposit, name="deposit"),
    path("price-lists/", prices.price_lists, name="price_lists"),
    path("price-lists/<int:price_list_id>/", prices.price_list, name="price_list"),
    path("discounts/", prices.discount_create, name="discount_create"),
    path("discounts/<int:discount_id>/deactivate/", prices.discount_deactivate, name="discount_deactivate"),
    path("cash-report/", reports.cash_report, name="cash_report"),
]
