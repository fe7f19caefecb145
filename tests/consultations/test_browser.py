"""The whole consultation story in headless Chromium against uvicorn (websockets included) over the test database.

An administrator opens a contract from the patient's card; the patient (on a phone-sized screen) writes, sends a
blood-pressure reading and a voice message recorded with Chromium's fake microphone; the doctor, on the same
conversation, sees it and answers, and the answer reaches the patient's page live; when the SLA has passed without
an answer the control panel shows the conversation as overdue; the contract ends and the patient can still read
but no longer write.

"Time is moved past the SLA" by moving the stored times of the waiting message back by the SLA and an hour: the
server process keeps the real clock, so the data moves instead.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone
from playwright.sync_api import Browser, BrowserType, Page, expect

from kabinet.accounts.models import User
from kabinet.consultations import services
from kabinet.consultations.models import ConsultationContract, ConsultationMessage, Conversation, VideoCall
from kabinet.notifications.models import Message as Outbox
from kabinet.scheduling.models import Appointment, Service
from tests.consultations.conftest import EMERGENCY
from tests.factories import LocationFactory
from tests.fixtures.browser import CHROMIUM_ARGS
from tests.fixtures.clinic import Clinic
from tests.frontdesk.test_browser import working_zone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(autouse=True)
def _no_channel_layer_in_the_test_process(settings: Any) -> None:
    """Rows made here through services would announce themselves on this process's channel layer; the pages listen
    to the server process."""
    settings.CHANNEL_LAYERS = {}


@pytest.fixture
def media_browser(browser_type: BrowserType, _async_unsafe_allowed: None) -> Iterator[Browser]:
    """Chromium with a fake camera and microphone that needs no permission prompt (the session's shared browser is
    launched without them)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed (apt-get install chromium)")
    browser = browser_type.launch(executable_path=executable, args=[*CHROMIUM_ARGS, *FAKE_MEDIA])
    yield browser
    browser.close()


@pytest.fixture
def open_page(media_browser: Browser, asgi_server: str, password: str) -> Iterator[Callable[..., Page]]:
    """A logged-in page in a fresh context; a script error or a Content-Security-Policy violation on any of them
    fails the test."""
    errors: list[str] = []

    def open_as(user: User, **context_args: Any) -> Page:
        context = media_browser.new_context(base_url=asgi_server, locale="en-US", **context_args)
        context.grant_permissions(["microphone", "camera"])
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None,
        )
        page.goto("/accounts/login/")
        page.get_by_label("Email or phone").fill(user.email or "")
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
        return page

    yield open_as
    assert errors == []


def live(page: Page) -> None:
    """Wait until the conversation page follows its topic over the websocket."""
    expect(page.locator("#conversation")).to_have_attribute("data-live", "subscribed")


def test_the_consultation_story(clinic: Clinic, admin_user: User, open_page: Callable[..., Page]) -> None:
    clinic.location.phone_lines = [EMERGENCY]
    clinic.location.save(update_fields=["phone_lines"])

    # The administrator opens a contract from the patient's card.
    admin = open_page(admin_user)
    admin.goto(f"/patients/{clinic.patient.pk}/?tab=consultations")
    admin.get_by_role("button", name="New consultation contract").click()
    expect(admin.locator("[data-patient]")).to_contain_text("Patient Petya")
    admin.locator('select[name="doctor"]').select_option(label="Dr Dana")
    admin.locator('select[name="location"]').select_option(label="Sofia")
    admin.get_by_label("Reply within, hours").fill("24")
    admin.get_by_role("button", name="Save the contract").click()
    expect(admin.locator("[data-status]")).to_have_text("active")
    contract = ConsultationContract.objects.get()
    assert contract.conversation_id is not None
    conversation_id = contract.conversation_id

    # The patient writes from a phone, sends a reading and a voice message.
    patient = open_page(clinic.patient_user, **PHONE)
    patient.goto("/my/consultations/")
    patient.get_by_role("link", name=re.compile("Dr Dana")).click()
    live(patient)
    expect(patient.locator("[data-emergency]")).to_have_attribute("href", f"tel:{EMERGENCY}")
    patient.get_by_placeholder("Write a message…").fill("My blood pressure is high since yesterday.")
    patient.get_by_role("button", name="Send", exact=True).click()
    messages = patient.locator("#messages")
    expect(messages).to_contain_text("My blood pressure is high since yesterday.")

    patient.get_by_text("Send a reading").click()
    patient.get_by_label("Reading").select_option("blood_pressure")
    patient.get_by_label("Systolic, mmHg").fill("900")
    patient.get_by_label("Diastolic, mmHg").fill("95")
    patient.get_by_role("button", name="Send the reading").click()
    expect(patient.locator('form[data-send="reading"] [data-errors]')).to_contain_text("900 mmHg is not possible")
    patient.get_by_label("Systolic, mmHg").fill("165")
    patient.get_by_label("Pulse, /min").fill("88")
    patient.get_by_label("Comment").fill("after climbing stairs")
    patient.get_by_role("button", name="Send the reading").click()
    reading = messages.locator('li[data-kind="reading"]')
    expect(reading).to_contain_text("165/95 mmHg, pulse 88/min")
    expect(reading).to_contain_text("outside the normal range")

    recorder = patient.locator("[data-voice]")
    expect(recorder).to_be_visible()
    recorder.get_by_role("button", name=re.compile("Record a voice message")).click()
    expect(recorder).to_have_attribute("data-state", "recording")
    patient.wait_for_timeout(1500)
    recorder.get_by_role("button", name=re.compile("Stop and send")).click()
    expect(recorder).to_have_attribute("data-state", "sent", timeout=10_000)
    voice = messages.locator('li[data-kind="voice"]')
    expect(voice.locator("audio")).to_have_count(1)
    expect(voice.locator(".duration")).to_have_text(re.compile(r"0:0[1-9]"))
    stored = ConsultationMessage.objects.get(kind="voice")
    assert stored.content_type in ("audio/webm", "audio/ogg") and stored.size > 0

    # The doctor reads and answers; the answer reaches the patient live, and the patient's messages show as read.
    doctor = open_page(clinic.doctor_user)
    doctor.goto(f"/consultations/c/{conversation_id}/")
    live(doctor)
    expect(doctor.locator("#messages")).to_contain_text("My blood pressure is high since yesterday.")
    expect(doctor.locator('li[data-kind="reading"]')).to_contain_text("165/95")
    expect(patient.locator('li.mine .receipt[data-read="true"]').first).to_be_visible()
    doctor.get_by_placeholder("Write a message…").fill("Please rest and measure again in the evening.")
    doctor.get_by_role("button", name="Send", exact=True).click()
    expect(messages).to_contain_text("Please rest and measure again in the evening.")  # no reload on the phone
    expect(messages.locator("li")).to_have_count(4)

    # Another question waits past the SLA: the control panel shows the conversation as overdue.
    patient.get_by_placeholder("Write a message…").fill("Should I take an extra pill?")
    patient.get_by_role("button", name="Send", exact=True).click()
    expect(doctor.locator("#messages")).to_contain_text("Should I take an extra pill?")  # live on the doctor's page too
    waiting = ConsultationMessage.objects.filter(
        conversation_id=conversation_id, side="patient", answered_at__isnull=True
    )
    assert waiting.count() == 1
    shift = timedelta(hours=contract.sla_hours + 1)
    waiting.update(created_at=F("created_at") - shift, due_at=F("due_at") - shift)
    Conversation.objects.filter(pk=conversation_id).update(
        awaiting_since=F("awaiting_since") - shift, due_at=F("due_at") - shift
    )
    admin.goto("/consultations/panel/")
    row = admin.locator(f'#panel-rows tr[data-conversation="{conversation_id}"]')
    expect(row).to_have_attribute("data-overdue", "true")
    expect(row.locator('[data-counter="overdue"]')).to_have_text("▲ 1")
    expect(row).to_contain_text("↑ 4")
    assert services.sla_check()["doctor"] == 1  # the clock's job reminds the doctor
    assert Outbox.objects.filter(event="consultation.overdue.doctor", user=clinic.doctor_user).exists()
    admin.reload()
    expect(row).to_contain_text("doctor reminded")

    # The contract ends: the patient's page turns read-only by itself, and writing is refused.
    admin.goto(f"/consultations/contracts/{contract.pk}/")
    admin.get_by_role("button", name="End the contract").click()
    expect(admin.locator("[data-status]")).to_have_text("ended")
    expect(patient.locator("[data-closed]")).to_be_visible()
    expect(patient.get_by_placeholder("Write a message…")).to_have_count(0)
    expect(patient.locator("#messages")).to_contain_text("Please rest and measure again in the evening.")
    refused = patient.evaluate(
        """async (id) => {
            const root = document.getElementById("conversation");
            const response = await fetch(`/api/v1/conversations/${id}/messages`, {
                method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf},
                body: JSON.stringify({text: "Hello?"}),
            });
            return {status: response.status, body: await response.json()};
        }""",
        conversation_id,
    )
    assert refused["status"] == 403
    assert refused["body"]["code"] == "contract_ended"
    assert "no longer write" in refused["body"]["detail"]

    # The readings chart shows the blood pressure over time with the out-of-range value flagged.
    admin.goto(f"/consultations/c/{conversation_id}/readings/")
    expect(admin.locator("#readings-chart")).to_have_attribute("data-state", "drawn")
    expect(admin.locator("#readings-table tr.reading-flag")).to_contain_text("165/95 mmHg")


def test_a_video_consultation_connects_two_browsers(
    clinic: Clinic, admin_user: User, open_page: Callable[..., Page]
) -> None:
    contract = services.contract_create(
        actor=admin_user,
        patient=clinic.patient,
        doctor=clinic.doctor,
        ends_on=clinic.day + timedelta(days=30),
        kind=ConsultationContract.Kind.VIDEO,
        activate=True,
    )
    contract.refresh_from_db()
    patient = open_page(clinic.patient_user)
    patient.goto(f"/my/consultations/{contract.conversation_id}/")
    live(patient)
    join = patient.locator("[data-video-join]")
    expect(join).to_be_hidden()

    doctor = open_page(clinic.doctor_user)
    doctor.goto(f"/consultations/c/{contract.conversation_id}/")
    doctor.get_by_role("button", name=re.compile("Start a video call")).click()
    expect(doctor.locator("#video-call")).to_have_attribute("data-state", "waiting")

    expect(join).to_be_visible()  # the call reaches the patient's open page live
    join.click()
    for page in (doctor, patient):
        expect_media_flows(page)

    patient.get_by_role("button", name="Hang up").click()
    expect(doctor.locator("#video-call")).to_have_attribute("data-state", re.compile("waiting|ended"))


def expect_media_flows(page: Page) -> None:
    """The call's page is connected to the other side and decodes the video it receives."""
    call = page.locator("#video-call")
    expect(call).to_have_attribute("data-state", "connected", timeout=20_000)
    expect(call).to_have_attribute("data-media", "receiving", timeout=20_000)
    received = page.evaluate(
        """async () => {
            const stats = await document.getElementById("video-call").peer.getStats();
            let bytes = 0, frames = 0;
            stats.forEach((report) => {
                if (report.type !== "inbound-rtp") { return; }
                bytes += report.bytesReceived || 0;
                frames += report.framesDecoded || 0;
            });
            return {bytes, frames};
        }"""
    )
    assert received["bytes"] > 0 and received["frames"] > 0


def test_a_video_visit_is_called_from_the_calendar(clinic: Clinic, open_page: Callable[..., Page]) -> None:
    """The doctor starts the call from the visit panel of the calendar; the patient's open /my/ page offers to join
    it; the two browsers connect; hanging up ends the call for both."""
    video = Service.objects.create(
        organisation=clinic.org, name="Video consultation 30 min", duration_minutes=30, is_video=True
    )
    now = timezone.now()
    branch = LocationFactory.create(organisation=clinic.org, name="Online", time_zone=working_zone(now))
    clinic.doctor.locations.add(branch)
    start = (now - timedelta(minutes=5)).replace(second=0, microsecond=0)
    visit = Appointment.objects.create(
        organisation=clinic.org,
        location=branch,
        practitioner=clinic.doctor,
        patient=clinic.patient,
        service=video,
        start=start,
        end=start + timedelta(minutes=30),
        busy_start=start,
        busy_end=start + timedelta(minutes=30),
        status=Appointment.Status.CONFIRMED,
    )

    patient = open_page(clinic.patient_user)
    patient.goto("/my/")
    expect(patient.locator("body")).to_have_attribute("data-live", "connected")
    expect(patient.locator(f'[data-video-visit="{visit.pk}"]')).to_contain_text("by video")
    join = patient.locator("[data-video-join]")
    expect(join).to_have_count(0)

    doctor = open_page(clinic.doctor_user)
    doctor.goto(f"/calendar/?location={branch.pk}&date={timezone.localtime(start, branch.zone).date()}")
    expect(doctor.locator("#calendar-page")).to_have_attribute("data-state", "ready")
    doctor.locator(f'#ec [data-appointment-id="{visit.pk}"]').click()
    doctor.locator("#visit-dialog").get_by_role("button", name="Start video call").click()
    expect(doctor.locator("#video-call")).to_have_attribute("data-state", "waiting")
    call = VideoCall.objects.get(appointment=visit)
    assert doctor.url.endswith(f"/consultations/video/{call.pk}/")

    expect(join).to_be_visible()  # the open /my/ page hears of the call and shows it
    join.click()
    for page in (doctor, patient):
        expect_media_flows(page)

    patient.get_by_role("button", name="Hang up").click()
    expect(patient).to_have_url(re.compile(r"/my/$"))
    expect(doctor.locator("#video-call")).to_have_attribute("data-state", "ended")
    call.refresh_from_db()
    assert not call.is_open
