"""Billing pages, mounted at /billing/: invoices and checkout, price lists and discounts, the daily cash report."""
