"""App config for kabinet.accounts: users, login, one-time codes, 2FA, API tokens, rate limits."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "kabinet.accounts"
    label = "accounts"
    verbose_name = _("Accounts")
