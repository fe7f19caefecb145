"""In the browser: a doctor makes a consent from a template and marks it as entered in error; a patient sends a
photo from their phone at /my/documents/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import FilePayload, Page, expect

from kabinet.records.models import Document
from tests.browser.helpers import log_in
from tests.factories import PASSWORD
from tests.records import corpus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_doctor_makes_a_consent_from_a_template_and_marks_it_as_entered_in_error(page: Page, rec) -> None:
    log_in(page, rec.doctor.email, PASSWORD)
    page.goto(f"/patients/{rec.patient.pk}/?tab=documents")
    page.get_by_role("button", name="New from a template").click()
    page.get_by_role("link", name="Consent for fillers").click()
    page.get_by_label("Procedure").fill("Контурная пластика губ")
    page.get_by_label("Risks explained").fill("Отёк, синяки")
    page.get_by_label("Patient agrees").check()
    page.get_by_role("button", name="Create PDF").click()

    expect(page.get_by_role("status").filter(has_text="The document was created.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consent for fillers")
    expect(page.locator("iframe.viewer")).to_have_attribute("src", re.compile(r"/records/documents/\d+/view/$"))
    document = Document.objects.get()
    assert document.current_version is not None and document.current_version.fields["agreed"] is True

    erroneous = page.locator("details", has=page.locator("summary", has_text="Mark as entered in error"))
    erroneous.locator("summary").click()
    erroneous.get_by_label("Reason").fill("Wrong procedure")
    page.get_by_role("button", name="Mark as entered in error").click()
    expect(page.get_by_role("note")).to_contain_text("Wrong procedure")

    page.get_by_role("link", name=str(rec.patient)).first.click()
    page.get_by_role("tab", name=re.compile(r"^Documents")).click()
    title = page.locator("tr.document-erroneous .document-title")
    expect(title).to_have_text("Consent for fillers")
    expect(title).to_have_css("text-decoration-line", "line-through")


def test_a_patient_sends_a_photo_from_a_phone(page: Page, rec) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, rec.patient_user.email, PASSWORD)
    page.get_by_role("link", name="My documents").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My documents")
    page.get_by_label("For").select_option(label=str(rec.ward))
    page.get_by_label("What is it?").select_option("photo")
    page.get_by_label("Title").fill("Rash on the arm")
    photo: FilePayload = {"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": corpus.jpeg(gps=True)}
    page.get_by_label("Photo or PDF").set_input_files(files=[photo])
    page.get_by_role("button", name="Send to the clinic").click()

    expect(page.get_by_role("status").filter(has_text="the clinic has received your file")).to_be_visible()
    expect(page.locator("article", has_text="Rash on the arm")).to_be_visible()
    document = Document.objects.get()
    assert document.patient == rec.ward and document.restricted
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page fits a phone screen without sideways scrolling"


def test_the_patient_signs_a_consent_on_the_desks_tablet(page: Page, rec) -> None:
    from kabinet.records import services

    document = services.document_create_from_template(
        actor=rec.doctor, patient=rec.patient, template=rec.consent, fields={"procedure": "Fillers"}
    )
    page.set_viewport_size({"width": 1024, "height": 1366})  # a tablet, upright
    log_in(page, rec.registrar.email, PASSWORD)
    page.goto(f"/records/documents/{document.pk}/")
    page.get_by_role("button", name="Sign on the screen").click()
    expect(page.get_by_label("Who signs")).to_have_value(str(rec.patient))

    page.get_by_role("button", name="Save the signature").click()  # nothing drawn yet
    expect(page.get_by_role("alert")).to_have_text("Sign in the box first.")

    pad = page.locator("#sign-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 100, box["y"] + 120)
    page.mouse.down()
    for step in range(1, 14):  # wider than the one kept below: a clear that failed would show
        page.mouse.move(box["x"] + 100 + step * 50, box["y"] + 120 + (30 if step % 2 else -30), steps=3)
    page.mouse.up()
    page.get_by_role("button", name="Clear").click()
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()  # clicking may have scrolled the page
    assert box is not None
    page.mouse.move(box["x"] + 120, box["y"] + 100)
    page.mouse.down()
    for step in range(1, 10):
        page.mouse.move(box["x"] + 120 + step * 45, box["y"] + 100 + (25 if step % 2 else -25), steps=3)
    page.mouse.up()
    page.get_by_role("button", name="Save the signature").click()

    expect(page.get_by_role("status").filter(has_text="The signature was added to the document.")).to_be_visible()
    expect(page.locator("[data-version='2'] [data-signed]")).to_be_visible()
    version = Document.objects.get(pk=document.pk).current_version
    assert version is not None and version.number == 2 and version.signed_by == str(rec.patient)
    from PIL import Image

    with version.signature.open("rb") as handle:
        signature = Image.open(handle)
        signature.load()
    # the second drawing only (the first was cleared): about 9 × 45 px wide, 50 px high, plus the margins
    assert 380 <= signature.width <= 460 and 50 <= signature.height <= 90
