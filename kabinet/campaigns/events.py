"""The campaign message: a marketing event of the notification catalogue (List-Unsubscribe, consent, opt-outs).

Its built-in wording is the campaign's own subject and text; clinics may reword it per language and channel at
/notifications/templates/ like any other event (e.g. to add a signature).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kabinet.notifications import events
from kabinet.notifications.compose import FREE_TEXT_VARIABLES

CAMPAIGN_EVENT = "campaign.message"


def register_events() -> None:
    events.register(
        events.EventType(
            key=CAMPAIGN_EVENT,
            label=_("Campaign (news and offers)"),
            variables=FREE_TEXT_VARIABLES,
            wording={
                language: events.Wording(
                    subject="{{ subject }}", long="{{ text }}\n\n{{ clinic.name }}", short="{{ text }}"
                )
                for language in ("en", "ru", "bg")
            },
            marketing=True,
            sample={"subject": "Spring check-up: 20% off", "text": "Dear patients, book your check-up in April."},
        )
    )
