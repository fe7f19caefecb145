"""The card's Medical and Photos tabs: shown to the clinical roles only, htmx forms that add, edit and stop, the
photo pairs side by side through the permission-checked file view, and a query count independent of the entries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kabinet.audit.models import AuditEvent
from kabinet.patients.models import TimelineEntry
from kabinet.records import medical
from kabinet.records.models import Medication, PhotoPair
from tests.records.test_medical import photo

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def card(patient, tab="medical") -> str:
    return reverse("patients:card", args=[patient.pk]) + f"?tab={tab}"


def test_clinical_roles_see_the_medical_and_photos_tabs_the_desk_does_not(rec, login_client) -> None:
    medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="diagnosis", data={"text": "Melasma"})
    medical.allergies_set(actor=rec.doctor, patient=rec.patient, allergies="Penicillin")
    html = login_client(rec.nurse).get(card(rec.patient)).content.decode()
    assert 'data-tab="medical"' in html and 'data-tab="photos"' in html and "Melasma" in html
    assert "Add a medication" in html
    tabs = html[html.index('role="tablist"') :]
    order = ["timeline", "appointments", "documents", "medical", "photos", "notes", "relatives", "consents"]
    positions = [tabs.index(f'data-tab="{name}"') for name in order]
    assert positions == sorted(positions)
    desk = login_client(rec.registrar).get(card(rec.patient)).content.decode()
    assert 'data-tab="medical"' not in desk and 'data-tab="photos"' not in desk and "Melasma" not in desk
    assert "Penicillin" in desk  # the allergies flag in the header is for everyone
    assert "Diagnosis added" in desk  # the timeline line says what kind of thing happened, not what


def test_a_doctor_adds_a_medication_with_htmx(rec, login_client) -> None:
    client = login_client(rec.doctor)
    url = reverse("records:medical_add", args=[rec.patient.pk, "medication"])
    response = client.post(url, {"medication-name": "Doxycycline", "medication-dose": "100 mg"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="medical-record"' in html
    assert "Doxycycline" in html and "Added to the medical record." in html
    assert Medication.objects.get().author == rec.doctor
    assert TimelineEntry.objects.filter(kind="medical", title="Medication added").exists()


def test_a_refused_form_comes_back_open_with_its_errors(rec, login_client) -> None:
    client = login_client(rec.doctor)
    url = reverse("records:medical_add", args=[rec.patient.pk, "diagnosis"])
    html = client.post(url, {"diagnosis-text": ""}, headers=HTMX).content.decode()
    assert "This field is required." in html and '<details open data-add="diagnosis">' in html
    response = client.post(url, {"diagnosis-text": ""})  # without JavaScript: the form alone
    assert response.status_code == 422 and "This field is required." in response.content.decode()


def test_edit_and_stop_from_the_card(rec, login_client) -> None:
    entry = medical.medical_entry_add(
        actor=rec.doctor, patient=rec.patient, kind="medication", data={"name": "Minoxidil", "dose": "2%"}
    )
    client = login_client(rec.nurse)
    prefix = f"medication-{entry.pk}"
    edit = reverse("records:medical_edit", args=[rec.patient.pk, "medication", entry.pk])
    html = client.post(edit, {f"{prefix}-name": "Minoxidil", f"{prefix}-dose": "5%"}, headers=HTMX).content.decode()
    assert "5%" in html
    stop = reverse("records:medication_stop", args=[rec.patient.pk, entry.pk])
    response = client.post(stop, {f"stop-{entry.pk}-stop_reason": "Side effects"})
    assert response.status_code == 302 and response["Location"].endswith("?tab=medical")
    entry.refresh_from_db()
    assert isinstance(entry, Medication)
    assert entry.stopped_on is not None and entry.stop_reason == "Side effects"
    html = client.get(card(rec.patient)).content.decode()
    assert "No current medications." in html and "1 past medication" in html


def test_the_desk_and_other_clinics_cannot_write(rec, login_client) -> None:
    url = reverse("records:medical_add", args=[rec.patient.pk, "note"])
    data = {"note-complaint": "Itching"}
    assert login_client(rec.registrar).post(url, data).status_code == 403
    assert login_client(rec.outsider).post(url, data).status_code == 404
    assert login_client(rec.patient_user).post(url, data).status_code == 403
    assert (
        login_client(rec.doctor).post(reverse("records:medical_add", args=[rec.patient.pk, "x"]), data).status_code
        == 404
    )
    entry = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="note", data={"plan": "Retinoid"})
    other = reverse("records:medical_edit", args=[rec.other_patient.pk, "note", entry.pk])
    assert login_client(rec.doctor).post(other, {f"note-{entry.pk}-plan": "x"}).status_code == 404  # not theirs


def test_photos_tab_shows_thumbnails_and_a_pair_side_by_side(rec, login_client) -> None:
    before, after = photo(rec, "Lips, March"), photo(rec, "Lips, May")
    client = login_client(rec.doctor)
    html = client.get(card(rec.patient, "photos")).content.decode()
    assert f'src="{reverse("records:inline", args=[before.pk])}"' in html and "Pair two photos" in html
    response = client.post(
        reverse("records:photo_pair_add", args=[rec.patient.pk]),
        {"label": "Fillers, lips", "before": before.pk, "after": after.pk},
        headers=HTMX,
    )
    html = response.content.decode()
    pair = PhotoPair.objects.get()
    assert f'data-pair="{pair.pk}"' in html and "Fillers, lips" in html
    assert 'class="photo-pair-images"' in html
    image = client.get(reverse("records:inline", args=[after.pk]))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert image["X-Content-Type-Options"] == "nosniff"
    assert login_client(rec.registrar).get(reverse("records:inline", args=[after.pk])).status_code == 404
    refused = client.post(
        reverse("records:photo_pair_add", args=[rec.patient.pk]),
        {"label": "Same", "before": before.pk, "after": before.pk},
        headers=HTMX,
    ).content.decode()
    assert "Choose two different photos." in refused and PhotoPair.objects.count() == 1
    client.post(reverse("records:photo_pair_remove", args=[rec.patient.pk, pair.pk]), headers=HTMX)
    assert not PhotoPair.objects.exists()


def test_the_card_read_of_medical_data_is_audited_once(rec, login_client) -> None:
    login_client(rec.doctor).get(card(rec.patient))
    assert AuditEvent.objects.filter(action="medical.viewed", actor=rec.doctor, patient_id=rec.patient.pk).count() == 1
    login_client(rec.registrar).get(card(rec.patient))
    assert not AuditEvent.objects.filter(action="medical.viewed", actor=rec.registrar).exists()


def test_card_query_count_does_not_grow_with_medical_entries(rec, login_client) -> None:
    client = login_client(rec.doctor)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(card(rec.patient)).status_code == 200
        return len(queries)

    def add_one_of_each(i: int) -> None:
        for kind, data in (
            ("medication", {"name": f"Drug {i}"}),
            ("diagnosis", {"text": f"Diagnosis {i}"}),
            ("procedure", {"name": f"Procedure {i}"}),
            ("note", {"complaint": f"Complaint {i}"}),
        ):
            medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind=kind, data=data)
        first, second = photo(rec, f"Before {i}"), photo(rec, f"After {i}")
        medical.photo_pair_add(actor=rec.doctor, patient=rec.patient, before=first, after=second, label=f"Pair {i}")

    add_one_of_each(0)
    count()
    few = count()
    for i in range(1, 5):
        add_one_of_each(i)
    assert count() == few


def test_an_entry_is_marked_as_entered_in_error_from_the_card_and_shown_struck_through(rec, login_client) -> None:
    entry = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="procedure", data={"name": "Peel"})
    client = login_client(rec.doctor)
    prefix = f"erroneous-procedure-{entry.pk}"
    html = client.get(card(rec.patient)).content.decode()
    url = reverse("records:medical_erroneous", args=[rec.patient.pk, "procedure", entry.pk])
    assert f'hx-post="{url}"' in html and f'name="{prefix}-reason"' in html
    refused = client.post(url, {f"{prefix}-reason": ""}, headers=HTMX).content.decode()
    assert "This field is required." in refused and f'name="{prefix}-reason"' in refused
    entry.refresh_from_db()
    assert not entry.is_erroneous
    response = client.post(url, {f"{prefix}-reason": "Recorded for the wrong visit"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="medical-record"' in html
    assert "The entry is marked as entered in error." in html
    assert f'class="medical-erroneous" data-entry="procedure-{entry.pk}"' in html
    assert "Entered in error: Recorded for the wrong visit" in html
    edit = reverse("records:medical_edit", args=[rec.patient.pk, "procedure", entry.pk])
    assert f'hx-post="{edit}"' not in html and f'hx-post="{url}"' not in html  # no edit, no second marking
    entry.refresh_from_db()
    assert entry.is_erroneous and entry.status_reason == "Recorded for the wrong visit"
    assert AuditEvent.objects.filter(action="medical.procedure_marked_erroneous", actor=rec.doctor).exists()
    again = client.post(url, {f"{prefix}-reason": "Twice"})  # without JavaScript: the form with the conflict
    assert again.status_code == 422 and "already marked as entered in error" in again.content.decode()
    refused_edit = client.post(edit, {f"procedure-{entry.pk}-name": "Laser"})
    assert refused_edit.status_code == 422 and "cannot be changed" in refused_edit.content.decode()


def test_an_erroneous_medication_leaves_the_current_ones(rec, login_client) -> None:
    entry = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="medication", data={"name": "Zinc"})
    client = login_client(rec.admin)
    url = reverse("records:medical_erroneous", args=[rec.patient.pk, "medication", entry.pk])
    response = client.post(url, {f"erroneous-medication-{entry.pk}-reason": "Never prescribed"})
    assert response.status_code == 302 and response["Location"].endswith("?tab=medical")
    html = client.get(card(rec.patient)).content.decode()
    assert "No current medications." in html and "Entered in error: Never prescribed" in html
    assert 'data-list="erroneous-medications"' in html


def test_who_sees_and_may_use_the_entered_in_error_action(rec, login_client) -> None:
    mine = medical.medical_entry_add(actor=rec.nurse, patient=rec.patient, kind="note", data={"plan": "Cream"})
    theirs = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="note", data={"plan": "Laser"})
    nurse = login_client(rec.nurse)
    html = nurse.get(card(rec.patient)).content.decode()
    assert f'name="erroneous-note-{mine.pk}-reason"' in html  # her own entry
    assert f'name="erroneous-note-{theirs.pk}-reason"' not in html  # not the doctor's
    url = reverse("records:medical_erroneous", args=[rec.patient.pk, "note", theirs.pk])
    data = {f"erroneous-note-{theirs.pk}-reason": "Wrong"}
    assert nurse.post(url, data).status_code == 403
    assert login_client(rec.registrar).post(url, data).status_code == 403  # the desk does not see the tab
    assert login_client(rec.outsider).post(url, data).status_code == 404  # another clinic
    assert login_client(rec.patient_user).post(url, data).status_code == 403
    other_patient = reverse("records:medical_erroneous", args=[rec.other_patient.pk, "note", theirs.pk])
    assert login_client(rec.doctor).post(other_patient, data).status_code == 404  # not that patient's entry
    unknown_kind = reverse("records:medical_erroneous", args=[rec.patient.pk, "photo", theirs.pk])
    assert login_client(rec.doctor).post(unknown_kind, data).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_erroneous
    assert login_client(rec.doctor).post(url, data).status_code == 302
    theirs.refresh_from_db()
    assert theirs.is_erroneous
