"""In the browser: a doctor adds a current medication from the card's Medical tab, and pairs two photos as before
and after on the Photos tab, shown side by side."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from kabinet.records.models import Medication, PhotoPair
from tests.browser.helpers import log_in
from tests.factories import PASSWORD
from tests.records.test_medical import photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_doctor_adds_a_medication_and_a_before_after_pair_and_sees_them_on_the_card(page: Page, rec) -> None:
    before, after = photo(rec, "Lips, March"), photo(rec, "Lips, May")
    log_in(page, rec.doctor.email, PASSWORD)
    page.goto(f"/patients/{rec.patient.pk}/")
    page.wait_for_load_state()

    page.get_by_role("tab", name=re.compile(r"^Medical")).click()
    adding = page.locator('details[data-add="medication"]')
    adding.locator("summary").click()
    adding.get_by_label("Medication").fill("Doxycycline")
    adding.get_by_label("Dose").fill("100 mg twice a day")
    adding.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status").filter(has_text="Added to the medical record.")).to_be_visible()
    current = page.locator('[data-list="medications"]')
    expect(current).to_contain_text("Doxycycline")
    expect(current).to_contain_text("100 mg twice a day")
    assert Medication.objects.get().author == rec.doctor

    page.get_by_role("tab", name=re.compile(r"^Photos")).click()
    pairing = page.locator("details", has=page.locator("summary", has_text="Pair two photos"))
    pairing.locator("summary").click()
    pairing.get_by_label("Label").fill("Fillers, lips")
    pairing.get_by_label("Before").select_option(str(before.pk))
    pairing.get_by_label("After").select_option(str(after.pk))
    pairing.get_by_role("button", name="Show side by side").click()
    expect(page.get_by_role("status").filter(has_text="The photos are shown side by side.")).to_be_visible()
    pair = page.locator("figure.photo-pair")
    expect(pair).to_contain_text("Fillers, lips")
    images = pair.locator(".photo-pair-images img")
    expect(images).to_have_count(2)
    for image in images.all():
        image.scroll_into_view_if_needed()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    left, right = (image.bounding_box() for image in images.all())
    assert left and right and left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 2, (
        "the two photos stand side by side"
    )
    assert PhotoPair.objects.get().before_id == before.pk

    page.reload()
    page.get_by_role("tab", name=re.compile(r"^Medical")).click()
    expect(page.locator('[data-list="medications"]')).to_contain_text("Doxycycline")
