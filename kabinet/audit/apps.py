"""App config for kabinet.audit: the append-only, hash-chained audit log."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "kabinet.audit"
    label = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from kabinet.audit.db import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="kabinet_audit_sqlite_functions")
