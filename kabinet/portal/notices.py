"""Messages the patient area sends through the outbox: the sign-up code by SMS for people who gave only a phone."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Organisation
from kabinet.notifications import events, services
from kabinet.notifications.events import EventType, Wording
from kabinet.notifications.models import Channel, Message
from kabinet.patients.models import Patient

SIGNUP_CODE_EVENT = "account.signup_code"
# A code that arrives later than this is of no use to someone standing at the booking page.
SIGNUP_CODE_SMS_EXPIRES = timedelta(minutes=30)


def register_events() -> None:
    events.register(
        EventType(
            key=SIGNUP_CODE_EVENT,
            label=_("Sign-up code by SMS"),
            variables=frozenset({"code", "clinic.name"}),
            sample={"code": "4F7KQ2"},
            wording={
                "en": Wording(
                    subject="Your code",
                    long="Your {{ clinic.name }} sign-up code is {{ code }}.",
                    short="{{ clinic.name }}: your sign-up code is {{ code }}. Do not share it.",
                ),
                "ru": Wording(
                    subject="Ваш код",
                    long="Ваш код для регистрации в {{ clinic.name }}: {{ code }}.",
                    short="{{ clinic.name }}: код для регистрации {{ code }}. Никому его не сообщайте.",
                ),
                "bg": Wording(
                    subject="Вашият код",
                    long="Вашият код за регистрация в {{ clinic.name }}: {{ code }}.",
                    short="{{ clinic.name }}: код за регистрация {{ code }}. Не го споделяйте.",
                ),
            },
        )
    )


def signup_code_sms(*, organisation: Organisation, patient: Patient, code: str) -> bool:
    """Queue the code to the patient's phone now (quiet hours do not apply: the person is waiting for it).

    Returns False when no SMS can reach the phone (SMS not configured, or the number is not usable).
    """
    messages = services.send(
        organisation=organisation,
        event=SIGNUP_CODE_EVENT,
        key=f"signup-code:{patient.pk}:{secrets.token_hex(6)}",
        context={"code": code, "clinic": {"name": organisation.name}},
        patient=patient,
        channels=[Channel.SMS],
        expires_at=timezone.now() + SIGNUP_CODE_SMS_EXPIRES,
        quiet_hours=False,
        in_app_copy=False,
    )
    return any(message.state != Message.State.INVALID for message in messages)
