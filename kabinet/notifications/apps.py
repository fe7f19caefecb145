"""App config for kabinet.notifications: outbox, channels (email, SMS, web push, in-app), templates, reminders."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "kabinet.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from django.conf import settings

        from kabinet.core import clock
        from kabinet.notifications import compose, providers, tasks
        from kabinet.patients import cards

        providers.check_configuration()  # a malformed SMS_URL or VAPID key stops the start, naming the variable
        clock.register(
            "notifications.dispatch", tasks.dispatch_outbox, every_seconds=settings.NOTIFICATIONS_TICK_SECONDS
        )
        cards.register_action("send_message", _("Send message"), "notifications:send", compose.may_send, order=10)
