"""The catalogue of events that send messages: their variables, a sample for previews, and built-in wording in
English, Russian and Bulgarian (data, not gettext: clinics edit and override it per language).

Apps above notifications pass the variables as a context dict when they schedule a message; the catalogue only
names them, so notifications stays ignorant of appointments. Other apps may add events with `register`.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kabinet.notifications.models import Channel
from kabinet.notifications.rendering import Translated, moment_variables


@dataclass(frozen=True)
class Wording:
    """One language's default: `subject` (email, push and in-app title), `long` (email), `short` (SMS, push, in-app)."""

    subject: str
    long: str
    short: str


@dataclass(frozen=True)
class EventType:
    key: str
    label: str | Promise
    variables: frozenset[str]
    wording: dict[str, Wording] = field(default_factory=dict)
    # Marketing messages carry List-Unsubscribe and are subject to opt-outs; service messages are not.
    marketing: bool = False
    # Made-up values of the event's own variables for previews, over the shared sample (see sample_context).
    sample: dict[str, Any] = field(default_factory=dict)

    def default(self, channel: str, language: str) -> tuple[str, str, str]:
        """(subject, body, html) for the channel in the language, falling back to English."""
        wording = self.wording.get(language) or self.wording["en"]
        if channel == Channel.EMAIL:
            return wording.subject, wording.long, ""
        if channel == Channel.SMS:
            return "", wording.short, ""
        return wording.subject, wording.short, ""


_registry: dict[str, EventType] = {}


def register(event: EventType) -> None:
    _registry[event.key] = event


def get(key: str) -> EventType:
    try:
        return _registry[key]
    except KeyError:
        raise LookupError(f"unknown notification event {key!r}") from None


def all_events() -> list[EventType]:
    return sorted(_registry.values(), key=lambda e: e.key)


CHANNELS_WITH_SUBJECT = (Channel.EMAIL, Channel.PUSH, Channel.INAPP)

VISIT_VARIABLES = frozenset(
    {
        "patient.name",
        "patient.first_name",
        "doctor.name",
        "service.name",
        "location.name",
        "location.address",
        "clinic.name",
        "links.portal",
        *moment_variables("time"),
    }
)

_WHERE = {
    "en": "Where: {{ location.name }}{% if location.address %}, {{ location.address }}{% endif %}.",
    "ru": "Адрес: {{ location.name }}{% if location.address %}, {{ location.address }}{% endif %}.",
    "bg": "Къде: {{ location.name }}{% if location.address %}, {{ location.address }}{% endif %}.",
}

register(
    EventType(
        key="appointment.booked",
        label=_("Booking confirmation"),
        variables=VISIT_VARIABLES,
        wording={
            "en": Wording(
                subject="Your visit on {{ time.date }} at {{ time.time }}",
                long="Hello, {{ patient.first_name }}!\n\n"
                "Your visit is booked: {{ service.name }} with {{ doctor.name }} on {{ time.weekday }}, "
                "{{ time.date }} at {{ time.time }}.\n" + _WHERE["en"] + "\n\n"
                "The attached file adds the visit to your calendar. To change or cancel it: {{ links.portal }}\n\n"
                "{{ clinic.name }}",
                short="{{ clinic.name }}: {{ service.name }} booked for {{ time.date }} {{ time.time }}, "
                "{{ location.name }}. Manage: {{ links.portal }}",
            ),
            "ru": Wording(
                subject="Ваш визит {{ time.date }} в {{ time.time }}",
                long="Здравствуйте, {{ patient.first_name }}!\n\n"
                "Вы записаны: {{ service.name }}, врач {{ doctor.name }}, {{ time.weekday }}, {{ time.date }} "
                "в {{ time.time }}.\n" + _WHERE["ru"] + "\n\n"
                "Файл во вложении добавит визит в ваш календарь. Перенести или отменить визит: {{ links.portal }}\n\n"
                "{{ clinic.name }}",
                short="{{ clinic.name }}: вы записаны на {{ service.name }} {{ time.date }} в {{ time.time }}, "
                "{{ location.name }}. Управление записью: {{ links.portal }}",
            ),
            "bg": Wording(
                subject="Вашето посещение на {{ time.date }} в {{ time.time }}",
                long="Здравейте, {{ patient.first_name }}!\n\n"
                "Записани сте: {{ service.name }} при {{ doctor.name }}, {{ time.weekday }}, {{ time.date }} "
                "в {{ time.time }}.\n" + _WHERE["bg"] + "\n\n"
                "Прикаченият файл добавя посещението към календара ви. Промяна или отказ: {{ links.portal }}\n\n"
                "{{ clinic.name }}",
                short="{{ clinic.name }}: записани сте за {{ service.name }} на {{ time.date }} в {{ time.time }}, "
                "{{ location.name }}. Управление: {{ links.portal }}",
            ),
        },
    )
)

register(
    EventType(
        key="appointment.reminder",
        label=_("Visit reminder"),
        variables=VISIT_VARIABLES,
        wording={
            "en": Wording(
                subject="Reminder: your visit on {{ time.date }} at {{ time.time }}",
                long="Hello, {{ patient.first_name }}!\n\n"
                "This is a reminder of your visit: {{ service.name }} with {{ doctor.name }} on {{ time.weekday }}, "
                "{{ time.date }} at {{ time.time }}.\n" + _WHERE["en"] + "\n\n"
                "If you cannot come, please let us know: {{ links.portal }}\n\n{{ clinic.name }}",
                short="{{ clinic.name }}: reminder: {{ service.name }} on {{ time.date }} at {{ time.time }}, "
                "{{ location.name }}.",
            ),
            "ru": Wording(
                subject="Напоминание: визит {{ time.date }} в {{ time.time }}",
                long="Здравствуйте, {{ patient.first_name }}!\n\n"
                "Напоминаем о визите: {{ service.name }}, врач {{ doctor.name }}, {{ time.weekday }}, "
                "{{ time.date }} в {{ time.time }}.\n" + _WHERE["ru"] + "\n\n"
                "Если не сможете прийти, сообщите нам: {{ links.portal }}\n\n{{ clinic.name }}",
                short="{{ clinic.name }}: напоминаем о визите: {{ service.name }} {{ time.date }} в {{ time.time }}, "
                "{{ location.name }}.",
            ),
            "bg": Wording(
                subject="Напомняне: посещение на {{ time.date }} в {{ time.time }}",
                long="Здравейте, {{ patient.first_name }}!\n\n"
                "Напомняме ви за посещението: {{ service.name }} при {{ doctor.name }}, {{ time.weekday }}, "
                "{{ time.date }} в {{ time.time }}.\n" + _WHERE["bg"] + "\n\n"
                "Ако не можете да дойдете, моля, уведомете ни: {{ links.portal }}\n\n{{ clinic.name }}",
                short="{{ clinic.name }}: напомняне: {{ service.name }} на {{ time.date }} в {{ time.time }}, "
                "{{ location.name }}.",
            ),
        },
    )
)

register(
    EventType(
        key="appointment.moved",
        label=_("Visit moved"),
        variables=VISIT_VARIABLES | moment_variables("previous_time"),
        wording={
            "en": Wording(
                subject="Your visit has moved to {{ time.date }} at {{ time.time }}",
                long="Hello, {{ patient.first_name }}!\n\n"
                "Your visit ({{ service.name }} with {{ doctor.name }}) has moved from {{ previous_time }} to "
                "{{ time.weekday }}, {{ time.date }} at {{ time.time }}.\n" + _WHERE["en"] + "\n\n"
                "The attached file updates your calendar. Questions or changes: {{ links.portal }}\n\n"
                "{{ clinic.name }}",
                short="{{ clinic.name }}: your visit has moved to {{ time.date }} {{ time.time }} "
                "({{ service.name }}, {{ location.name }}).",
            ),
            "ru": Wording(
                subject="Ваш визит перенесён на {{ time.date }} в {{ time.time }}",
                long="Здравствуйте, {{ patient.first_name }}!\n\n"
                "Ваш визит ({{ service.name }}, врач {{ doctor.name }}) перенесён с {{ previous_time }} на "
                "{{ time.weekday }}, {{ time.date }} в {{ time.time }}.\n" + _WHERE["ru"] + "\n\n"
                "Файл во вложении обновит визит в вашем календаре. Вопросы и изменения: {{ links.portal }}\n\n"
                "{{ clinic.name }}",
                short="{{ clinic.name }}: ваш визит перенесён на {{ time.date }} в {{ time.time }} "
                "({{ service.name }}, {{ location.name }}).",
            ),
            "bg": Wording(
                subject="Посещението ви е преместено за {{ time.date }} в {{ time.time }}",
                long="Здравейте, {{ patient.first_name }}!\n\n"
                "Посещението ви ({{ service.name }} при {{ doctor.name }}) е преместено от {{ previous_time }} за "
                "{{ time.weekday }}, {{ time.date }} в {{ time.time }}.\n" + _WHERE["bg"] + "\n\n"
                "Прикаченият файл обновява календара ви. Въпроси и промени: {{ links.portal }}\n\n"
                "{{ clinic.name }}",
                short="{{ clinic.name }}: посещението ви е преместено за {{ time.date }} в {{ time.time }} "
                "({{ service.name }}, {{ location.name }}).",
            ),
        },
    )
)

register(
    EventType(
        key="appointment.cancelled",
        label=_("Visit cancelled"),
        # `reason` is the catalogue reason; the built-in wording leaves it out (clinics word reasons for themselves).
        variables=VISIT_VARIABLES | {"reason"},
        wording={
            "en": Wording(
                subject="Your visit on {{ time.date }} is cancelled",
                long="Hello, {{ patient.first_name }}!\n\n"
                "Your visit ({{ service.name }} with {{ doctor.name }}) on {{ time.date }} at {{ time.time }} "
                "is cancelled.\n\n"
                "To book another time: {{ links.portal }}\n\n{{ clinic.name }}",
                short="{{ clinic.name }}: your visit on {{ time.date }} at {{ time.time }} is cancelled. "
                "Book again: {{ links.portal }}",
            ),
            "ru": Wording(
                subject="Ваш визит {{ time.date }} отменён",
                long="Здравствуйте, {{ patient.first_name }}!\n\n"
                "Ваш визит ({{ service.name }}, врач {{ doctor.name }}) {{ time.date }} в {{ time.time }} "
                "отменён.\n\n"
                "Записаться на другое время: {{ links.portal }}\n\n{{ clinic.name }}",
                short="{{ clinic.name }}: ваш визит {{ time.date }} в {{ time.time }} отменён. "
                "Записаться снова: {{ links.portal }}",
            ),
            "bg": Wording(
                subject="Посещението ви на {{ time.date }} е отменено",
                long="Здравейте, {{ patient.first_name }}!\n\n"
                "Посещението ви ({{ service.name }} при {{ doctor.name }}) на {{ time.date }} в {{ time.time }} "
                "е отменено.\n\n"
                "За да си запишете друг час: {{ links.portal }}\n\n{{ clinic.name }}",
                short="{{ clinic.name }}: посещението ви на {{ time.date }} в {{ time.time }} е отменено. "
                "Нов час: {{ links.portal }}",
            ),
        },
    )
)

# Free text from staff to chosen patients (issue #6 item 5 builds on it).
register(
    EventType(
        key="message.custom",
        label=_("Message from the clinic"),
        variables=frozenset({"patient.name", "patient.first_name", "clinic.name", "links.portal", "subject", "text"}),
        wording={
            language: Wording(subject="{{ subject }}", long="{{ text }}\n\n{{ clinic.name }}", short="{{ text }}")
            for language in ("en", "ru", "bg")
        },
    )
)


def sample_context(organisation_name: str) -> tuple[dict[str, Any], str]:
    """Made-up values for previews (a context and its time zone), covering every variable of every event."""
    zone = "Europe/Sofia"
    tomorrow = timezone.localdate() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(10, 30), tzinfo=zoneinfo.ZoneInfo(zone))
    return (
        {
            "patient": {"name": "Anna Ivanova", "first_name": "Anna"},
            "doctor": {"name": Translated({"en": "Dr Maria Petrova", "ru": "Мария Петрова", "bg": "Мария Петрова"})},
            "service": {"name": Translated({"en": "Consultation", "ru": "Консультация", "bg": "Консултация"})},
            "location": {"name": "Central", "address": "1 Vitosha Blvd, Sofia"},
            "clinic": {"name": organisation_name},
            "links": {"portal": settings.SITE_URL.rstrip("/") + "/my/"},
            "time": start,
            "previous_time": start - timedelta(days=1, hours=1),
            "reason": Translated({"en": "The doctor is ill", "ru": "Врач заболел", "bg": "Лекарят е болен"}),
            "subject": "Our clinic is open on Saturday",
            "text": "Dear patients, this Saturday we are open from 9:00 to 14:00.",
        },
        zone,
    )
