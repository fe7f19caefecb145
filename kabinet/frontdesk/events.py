"""The messages the front desk sends, registered in notifications' event catalogue at start-up: the SMS to a
patient who could not be reached about tomorrow's visit, an offer of a freed time from the waiting list, the card of
the next visit, and the in-app notice that tells a doctor their patient is late. Wording is data (clinics override
it per language in their message templates), so it is not gettext."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kabinet.notifications.events import VISIT_VARIABLES, EventType, Wording, register
from kabinet.notifications.rendering import moment_variables

UNREACHABLE = "frontdesk.unreachable"
WAITLIST_OFFER = "frontdesk.waitlist_offer"
VISIT_CARD = "frontdesk.visit_card"
PATIENT_LATE = "frontdesk.patient_late"

_WHERE = {
    "en": "{{ location.name }}{% if location.address %}, {{ location.address }}{% endif %}",
    "ru": "{{ location.name }}{% if location.address %}, {{ location.address }}{% endif %}",
    "bg": "{{ location.name }}{% if location.address %}, {{ location.address }}{% endif %}",
}


def register_all() -> None:
    register(
        EventType(
            key=UNREACHABLE,
            label=_("Could not reach the patient to confirm a visit"),
            variables=VISIT_VARIABLES,
            wording={
                "en": Wording(
                    subject="Your visit on {{ time.date }} at {{ time.time }}",
                    long="Hello, {{ patient.first_name }}!\n\nWe tried to call you to confirm your visit: "
                    "{{ service.name }} with {{ doctor.name }} on {{ time.weekday }}, {{ time.date }} at "
                    "{{ time.time }}, " + _WHERE["en"] + ".\n\nIf you cannot come, please cancel or move it: "
                    "{{ links.portal }}\n\n{{ clinic.name }}",
                    short="{{ clinic.name }}: we could not reach you. Your visit: {{ service.name }}, "
                    "{{ time.date }} {{ time.time }}, {{ location.name }}. To cancel or move: {{ links.portal }}",
                ),
                "ru": Wording(
                    subject="Ваш визит {{ time.date }} в {{ time.time }}",
                    long="Здравствуйте, {{ patient.first_name }}!\n\nМы не смогли дозвониться, чтобы подтвердить "
                    "ваш визит: {{ service.name }}, врач {{ doctor.name }}, {{ time.weekday }}, {{ time.date }} в "
                    "{{ time.time }}, " + _WHERE["ru"] + ".\n\nЕсли не сможете прийти, отмените или перенесите "
                    "визит: {{ links.portal }}\n\n{{ clinic.name }}",
                    short="{{ clinic.name }}: не смогли до вас дозвониться. Ваш визит: {{ service.name }}, "
                    "{{ time.date }} в {{ time.time }}, {{ location.name }}. "
                    "Отменить или перенести: {{ links.portal }}",
                ),
                "bg": Wording(
                    subject="Вашето посещение на {{ time.date }} в {{ time.time }}",
                    long="Здравейте, {{ patient.first_name }}!\n\nОпитахме да ви се обадим, за да потвърдим "
                    "посещението ви: {{ service.name }} при {{ doctor.name }}, {{ time.weekday }}, {{ time.date }} в "
                    "{{ time.time }}, " + _WHERE["bg"] + ".\n\nАко не можете да дойдете, моля, отменете или "
                    "преместете часа: {{ links.portal }}\n\n{{ clinic.name }}",
                    short="{{ clinic.name }}: не успяхме да се свържем с вас. Вашият час: {{ service.name }}, "
                    "{{ time.date }} в {{ time.time }}, {{ location.name }}. Отмяна или промяна: {{ links.portal }}",
                ),
            },
        )
    )
    register(
        EventType(
            key=WAITLIST_OFFER,
            label=_("A freed time offered from the waiting list"),
            variables=VISIT_VARIABLES | {"links.offer"},
            wording={
                "en": Wording(
                    subject="A time is free: {{ time.date }} at {{ time.time }}",
                    long="Hello, {{ patient.first_name }}!\n\nA time you were waiting for has become free: "
                    "{{ service.name }} with {{ doctor.name }} on {{ time.weekday }}, {{ time.date }} at "
                    "{{ time.time }}, " + _WHERE["en"] + ".\n\nTo book it, open {{ links.offer }} — the first "
                    "patient to accept gets it.\n\n{{ clinic.name }}",
                    short="{{ clinic.name }}: a time is free: {{ service.name }}, {{ time.date }} {{ time.time }}. "
                    "Book it: {{ links.offer }}",
                ),
                "ru": Wording(
                    subject="Освободилось время: {{ time.date }} в {{ time.time }}",
                    long="Здравствуйте, {{ patient.first_name }}!\n\nОсвободилось время, которого вы ждали: "
                    "{{ service.name }}, врач {{ doctor.name }}, {{ time.weekday }}, {{ time.date }} в "
                    "{{ time.time }}, " + _WHERE["ru"] + ".\n\nЧтобы записаться, откройте {{ links.offer }} — "
                    "время достанется тому, кто согласится первым.\n\n{{ clinic.name }}",
                    short="{{ clinic.name }}: освободилось время: {{ service.name }}, {{ time.date }} в "
                    "{{ time.time }}. Записаться: {{ links.offer }}",
                ),
                "bg": Wording(
                    subject="Освободи се час: {{ time.date }} в {{ time.time }}",
                    long="Здравейте, {{ patient.first_name }}!\n\nОсвободи се час, който чакахте: "
                    "{{ service.name }} при {{ doctor.name }}, {{ time.weekday }}, {{ time.date }} в "
                    "{{ time.time }}, " + _WHERE["bg"] + ".\n\nЗа да го запазите, отворете {{ links.offer }} — "
                    "часът е за първия, който го приеме.\n\n{{ clinic.name }}",
                    short="{{ clinic.name }}: освободи се час: {{ service.name }}, {{ time.date }} в {{ time.time }}. "
                    "Запазете го: {{ links.offer }}",
                ),
            },
        )
    )
    register(
        EventType(
            key=VISIT_CARD,
            label=_("Card of the next visit"),
            variables=VISIT_VARIABLES,
            wording={
                "en": Wording(
                    subject="Your next visit: {{ time.date }} at {{ time.time }}",
                    long="Hello, {{ patient.first_name }}!\n\nYour next visit: {{ service.name }} with "
                    "{{ doctor.name }} on {{ time.weekday }}, {{ time.date }} at {{ time.time }}, "
                    + _WHERE["en"]
                    + ".\n\n{{ clinic.name }}",
                    short="{{ clinic.name }}: your next visit: {{ service.name }}, {{ time.weekday }} "
                    "{{ time.date }} {{ time.time }}, {{ location.name }}.",
                ),
                "ru": Wording(
                    subject="Ваш следующий визит: {{ time.date }} в {{ time.time }}",
                    long="Здравствуйте, {{ patient.first_name }}!\n\nВаш следующий визит: {{ service.name }}, врач "
                    "{{ doctor.name }}, {{ time.weekday }}, {{ time.date }} в {{ time.time }}, "
                    + _WHERE["ru"]
                    + ".\n\n{{ clinic.name }}",
                    short="{{ clinic.name }}: ваш следующий визит: {{ service.name }}, {{ time.weekday }} "
                    "{{ time.date }} в {{ time.time }}, {{ location.name }}.",
                ),
                "bg": Wording(
                    subject="Следващото ви посещение: {{ time.date }} в {{ time.time }}",
                    long="Здравейте, {{ patient.first_name }}!\n\nСледващото ви посещение: {{ service.name }} при "
                    "{{ doctor.name }}, {{ time.weekday }}, {{ time.date }} в {{ time.time }}, "
                    + _WHERE["bg"]
                    + ".\n\n{{ clinic.name }}",
                    short="{{ clinic.name }}: следващото ви посещение: {{ service.name }}, {{ time.weekday }} "
                    "{{ time.date }} в {{ time.time }}, {{ location.name }}.",
                ),
            },
        )
    )
    register(
        EventType(
            key=PATIENT_LATE,
            label=_("A patient is late (notice to the doctor)"),
            variables=frozenset({"patient.name", "service.name", "minutes", *moment_variables("time")}),
            wording={
                "en": Wording(
                    subject="{{ patient.name }} is {{ minutes }} min late",
                    long="{{ patient.name }} arrived {{ minutes }} min late for {{ service.name }} at {{ time.time }}.",
                    short="{{ patient.name }} arrived {{ minutes }} min late for {{ service.name }} at "
                    "{{ time.time }}.",
                ),
                "ru": Wording(
                    subject="{{ patient.name }} опаздывает на {{ minutes }} мин",
                    long="{{ patient.name }} пришёл(ла) с опозданием на {{ minutes }} мин: {{ service.name }} в "
                    "{{ time.time }}.",
                    short="{{ patient.name }} пришёл(ла) с опозданием на {{ minutes }} мин: {{ service.name }} в "
                    "{{ time.time }}.",
                ),
                "bg": Wording(
                    subject="{{ patient.name }} закъснява с {{ minutes }} мин",
                    long="{{ patient.name }} дойде с {{ minutes }} мин закъснение за {{ service.name }} в "
                    "{{ time.time }}.",
                    short="{{ patient.name }} дойде с {{ minutes }} мин закъснение за {{ service.name }} в "
                    "{{ time.time }}.",
                ),
            },
        )
    )
