"""Asynchronous bounces: mail goes out through a real SMTP server with a VERP envelope sender; bounces in the shapes
real servers send (tests/notifications/bounces/) come back through `manage.py notifications_bounce` and mark the
message bounced — or, for a delay notice, only note it; an "out of office" reply or a forged address changes
nothing."""

from __future__ import annotations

import io
import sys
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from kabinet.notifications import bounces, services
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import Message, MessageEvent
from tests.factories import PatientFactory

SAMPLES = Path(__file__).parent / "bounces"
ADDRESS = "anna@example.org"


@pytest.fixture
def sent(org: Any, no_quiet_hours: Any, smtp_server: Any, settings: Any) -> tuple[Message, str, Any]:
    """A message sent to the SMTP server with a VERP envelope sender: (message, its VERP address, the mail)."""
    settings.NOTIFICATIONS_BOUNCE_ADDRESS = "bounces@kabinet.example"
    patient = PatientFactory.create(organisation=org, email=ADDRESS, preferred_channel="email")
    [message] = services.schedule(
        organisation=org,
        event="message.custom",
        key="news:1",
        context={"subject": "Saturday hours", "text": "We are open on Saturday.", "clinic": {"name": "Alpha"}},
        patient=patient,
        channels=["email"],
    )
    assert dispatch_due().sent == 1
    message.refresh_from_db()
    assert message.state == "sent"
    return message, smtp_server.senders[-1], smtp_server.messages[-1]


def _bounce(sample: str, *, verp: str, mail: Any) -> bytes:
    headers = "".join(f"{name}: {value}\n" for name, value in mail.items())
    text = (SAMPLES / sample).read_text().format(verp=verp, address=ADDRESS, headers=headers.strip())
    return text.replace("\n", "\r\n").encode()


def _pipe(raw: bytes, monkeypatch: Any, *args: str) -> str:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    call_command("notifications_bounce", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_envelope_sender_is_the_message_own_signed_address_and_people_see_the_clinic(sent, settings) -> None:
    message, envelope_sender, mail = sent
    assert envelope_sender == bounces.verp_address(message)
    assert envelope_sender.startswith(f"bounces+m{message.pk}-") and envelope_sender.endswith("@kabinet.example")
    assert parseaddr(mail["From"])[1] == parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


@pytest.mark.django_db
@pytest.mark.parametrize("sample", ["postfix_dsn.eml", "exim_plain.eml"])
def test_a_permanent_failure_piped_from_the_mail_server_bounces_the_message(sent, sample, monkeypatch) -> None:
    message, verp, mail = sent
    output = _pipe(_bounce(sample, verp=verp, mail=mail), monkeypatch, "--recipient", verp)
    assert "1 matched" in output
    message.refresh_from_db()
    assert message.state == "bounced" and message.failed_at is not None
    assert message.error_code == "smtp_bounced"
    assert "5.1.1" in message.last_error and "nknown" in message.last_error
    assert ADDRESS not in output  # no personal data on the console/log


@pytest.mark.django_db
def test_a_delay_notice_is_noted_but_the_message_stays_sent(sent, monkeypatch) -> None:
    message, verp, mail = sent
    _pipe(_bounce("postfix_delayed.eml", verp=verp, mail=mail), monkeypatch)
    message.refresh_from_db()
    assert message.state == "sent"
    note = MessageEvent.objects.filter(message=message).latest("pk")
    assert "4.4.1" in note.detail and "delay" in note.detail


@pytest.mark.django_db
def test_a_bounce_without_verp_is_matched_by_the_returned_message_id(sent, tmp_path) -> None:
    message, _verp, mail = sent
    path = tmp_path / "bounce.eml"
    path.write_bytes(_bounce("gmail_dsn_no_verp.eml", verp="bounces@kabinet.example", mail=mail))
    call_command("notifications_bounce", str(path), stdout=io.StringIO())
    message.refresh_from_db()
    assert message.state == "bounced" and "does not exist" in message.last_error


@pytest.mark.django_db
def test_a_maildir_is_read_once(sent, tmp_path) -> None:
    message, verp, mail = sent
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1793607303.M1P1.mx").write_bytes(_bounce("postfix_dsn.eml", verp=verp, mail=mail))
    assert "1 matched" in _command(str(maildir))
    assert not list((maildir / "new").iterdir()) and len(list((maildir / "cur").iterdir())) == 1
    assert "0 mail(s) read" in _command(str(maildir))
    message.refresh_from_db()
    assert message.state == "bounced"


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command("notifications_bounce", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_an_out_of_office_reply_or_a_forged_address_changes_nothing(sent, monkeypatch) -> None:
    message, verp, mail = sent
    assert "0 matched" in _pipe(_bounce("out_of_office.eml", verp=verp, mail=mail), monkeypatch)
    forged = verp.replace(verp.split("-")[-1].split("@")[0], "0" * 16)
    # Someone who guessed the scheme cannot bounce another message: the signature does not match.
    raw = _bounce("exim_plain.eml", verp=forged, mail={"Subject": "nothing of ours"})
    assert "0 matched" in _pipe(raw, monkeypatch, "--recipient", forged)
    message.refresh_from_db()
    assert message.state == "sent"
