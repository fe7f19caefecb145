"""Medical data: medications, diagnoses, procedures, doctors' notes, allergies and before/after photo pairs — the use
cases (records.medical), who may read and write them (records.access), the audit trail and the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed, NotFound
from kabinet.core.models import Role
from kabinet.patients.models import TimelineEntry
from kabinet.records import medical, selectors, services
from kabinet.records.models import Diagnosis, DocumentKind, Medication, PhotoPair
from tests.factories import UserFactory, member
from tests.records import corpus

pytestmark = pytest.mark.django_db


def photo(rec, title: str, *, actor=None, data: bytes | None = None, name: str = "photo.jpg"):
    upload = SimpleUploadedFile(name, data or corpus.jpeg(), content_type="image/jpeg")
    return services.document_upload(
        actor=actor or rec.doctor, patient=rec.patient, kind=DocumentKind.PHOTO, title=title, upload=upload
    )


def test_a_doctor_adds_a_medication_audited_with_a_neutral_timeline_line(rec) -> None:
    today = timezone.localdate()
    entry = medical.medical_entry_add(
        actor=rec.doctor,
        patient=rec.patient,
        kind="medication",
        data={"name": " Warfarin ", "dose": "5 mg daily", "started_on": today - timedelta(days=30)},
    )
    assert isinstance(entry, Medication) and entry.name == "Warfarin" and entry.is_current()
    event = AuditEvent.objects.get(action="medical.medication_added")
    assert event.after is not None
    assert event.patient_id == rec.patient.pk and event.object_type == "records.medication"
    assert event.after["name"] == "Warfarin" and event.after["dose"] == "5 mg daily"
    line = TimelineEntry.objects.get(patient=rec.patient, kind=TimelineEntry.Kind.MEDICAL)
    assert line.title == "Medication added" and "Warfarin" not in line.title + line.body  # the desk reads the timeline
    assert line.ref_type == "records.medication" and line.ref_id == str(entry.pk)


def test_diagnosis_procedure_and_note_validation(rec) -> None:
    with pytest.raises(Invalid) as empty:
        medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="diagnosis", data={"text": "  "})
    assert "text" in empty.value.errors
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(Invalid) as future:
        medical.medical_entry_add(
            actor=rec.doctor, patient=rec.patient, kind="procedure", data={"name": "Fillers", "performed_on": tomorrow}
        )
    assert "performed_on" in future.value.errors
    with pytest.raises(Invalid) as blank_note:
        medical.medical_entry_add(
            actor=rec.doctor, patient=rec.patient, kind="note", data={"complaint": "", "findings": "", "plan": ""}
        )
    assert "__all__" in blank_note.value.errors
    with pytest.raises(Invalid) as backwards:
        today = timezone.localdate()
        medical.medical_entry_add(
            actor=rec.doctor,
            patient=rec.patient,
            kind="medication",
            data={"name": "Aspirin", "started_on": today, "ends_on": today - timedelta(days=3)},
        )
    assert "ends_on" in backwards.value.errors
    with pytest.raises(Invalid):
        medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="medication", data={"colour": "red"})
    assert not Medication.objects.exists() and not Diagnosis.objects.exists()


def test_the_doctor_of_a_diagnosis_is_the_author_or_a_doctor_of_the_clinic(rec) -> None:
    mine = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="diagnosis", data={"text": "Rosacea"})
    assert isinstance(mine, Diagnosis)
    assert mine.doctor == rec.doctor_member
    theirs = medical.medical_entry_add(
        actor=rec.nurse,
        patient=rec.patient,
        kind="diagnosis",
        data={"text": "Dermatitis", "doctor": rec.other_doctor_member.pk},
    )
    assert isinstance(theirs, Diagnosis) and theirs.doctor == rec.other_doctor_member
    nobody = medical.medical_entry_add(actor=rec.nurse, patient=rec.patient, kind="diagnosis", data={"text": "Acne"})
    assert isinstance(nobody, Diagnosis) and nobody.doctor is None  # a nurse is not a doctor
    outsider_member = rec.outsider.memberships.get()
    with pytest.raises(Invalid) as refused:
        medical.medical_entry_add(
            actor=rec.doctor, patient=rec.patient, kind="diagnosis", data={"text": "X", "doctor": outsider_member.pk}
        )
    assert "doctor" in refused.value.errors


def test_editing_changes_only_what_changed_and_audits_before_and_after(rec) -> None:
    entry = medical.medical_entry_add(
        actor=rec.doctor, patient=rec.patient, kind="medication", data={"name": "Metformin", "dose": "500 mg"}
    )
    medical.medical_entry_update(actor=rec.nurse, entry=entry, data={"name": "Metformin", "dose": "850 mg"})
    event = AuditEvent.objects.get(action="medical.medication_changed")
    assert event.before == {"dose": "500 mg"} and event.after == {"dose": "850 mg"}
    medical.medical_entry_update(actor=rec.nurse, entry=entry, data={"dose": "850 mg"})
    assert AuditEvent.objects.filter(action="medical.medication_changed").count() == 1  # nothing changed


def test_stopping_a_medication_moves_it_to_the_past(rec) -> None:
    today = timezone.localdate()
    entry = medical.medical_entry_add(
        actor=rec.doctor,
        patient=rec.patient,
        kind="medication",
        data={"name": "Isotretinoin", "started_on": today - timedelta(days=90)},
    )
    assert isinstance(entry, Medication)
    with pytest.raises(Invalid):
        medical.medication_stop(actor=rec.doctor, medication=entry, stopped_on=today - timedelta(days=100))
    medical.medication_stop(actor=rec.doctor, medication=entry, reason="Course finished")
    entry.refresh_from_db()
    assert entry.stopped_on == today and not entry.is_current()
    with pytest.raises(Conflict):
        medical.medication_stop(actor=rec.doctor, medication=entry)
    record = selectors.medical_record(user=rec.doctor, patient=rec.patient)
    assert record.current_medications == [] and record.past_medications == [entry]
    assert AuditEvent.objects.filter(action="medical.medication_stopped", after__reason="Course finished").exists()
    assert TimelineEntry.objects.filter(kind=TimelineEntry.Kind.MEDICAL, title="Medication stopped").exists()


def test_only_clinical_roles_write_medical_data(rec) -> None:
    for actor in (rec.registrar, rec.operator, rec.outsider, rec.patient_user):
        with pytest.raises(NotAllowed):
            medical.medical_entry_add(actor=actor, patient=rec.patient, kind="diagnosis", data={"text": "Eczema"})
        with pytest.raises(NotAllowed):
            medical.allergies_set(actor=actor, patient=rec.patient, allergies="Latex")
    for actor in (rec.doctor, rec.nurse, rec.admin):
        medical.medical_entry_add(actor=actor, patient=rec.patient, kind="diagnosis", data={"text": "Eczema"})
    assert Diagnosis.objects.count() == 3


def test_reading_draws_the_clinical_line_and_is_audited(rec) -> None:
    medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="note", data={"complaint": "Dry skin"})
    with pytest.raises(NotAllowed):  # the registrar works with the patient, but does not read clinical notes
        selectors.medical_record(user=rec.registrar, patient=rec.patient)
    with pytest.raises(NotFound):  # another clinic never learns the patient exists
        selectors.medical_record(user=rec.outsider, patient=rec.patient)
    with pytest.raises(NotFound):  # nor does another patient
        selectors.medical_record(user=rec.other_patient_user, patient=rec.patient)
    own = selectors.medical_record(user=rec.patient_user, patient=rec.patient)
    assert [n.complaint for n in own.notes] == ["Dry skin"] and not own.can_write
    nurse = selectors.medical_record(user=rec.nurse, patient=rec.patient)
    assert nurse.can_write
    readers = set(AuditEvent.objects.filter(action="medical.viewed").values_list("actor__email", flat=True))
    assert readers == {rec.patient_user.email, rec.nurse.email}


def test_allergies_from_the_medical_tab_go_through_the_patient_update(rec) -> None:
    medical.allergies_set(actor=rec.nurse, patient=rec.patient, allergies="Lidocaine, latex")
    rec.patient.refresh_from_db()
    assert rec.patient.allergies == "Lidocaine, latex"
    assert AuditEvent.objects.filter(action="patient.updated", after={"allergies": "Lidocaine, latex"}).exists()


def test_a_before_after_pair_needs_two_of_the_patients_active_image_photos(rec) -> None:
    before, after = photo(rec, "Lips, March"), photo(rec, "Lips, May")
    pdf = services.document_upload(
        actor=rec.doctor,
        patient=rec.patient,
        kind=DocumentKind.PHOTO,
        title="Scan",
        upload=SimpleUploadedFile("scan.pdf", corpus.pdf(), content_type="application/pdf"),
    )
    elsewhere = services.document_upload(
        actor=rec.doctor,
        patient=rec.other_patient,
        kind=DocumentKind.PHOTO,
        title="Other",
        upload=SimpleUploadedFile("o.jpg", corpus.jpeg(), content_type="image/jpeg"),
    )
    for first, second, field in ((before, before, "after"), (before, pdf, "after"), (elsewhere, after, "before")):
        with pytest.raises(Invalid) as refused:
            medical.photo_pair_add(actor=rec.doctor, patient=rec.patient, before=first, after=second, label="Lips")
        assert field in refused.value.errors
    with pytest.raises(Invalid) as unlabelled:
        medical.photo_pair_add(actor=rec.doctor, patient=rec.patient, before=before, after=after, label=" ")
    assert "label" in unlabelled.value.errors
    with pytest.raises(NotAllowed):
        medical.photo_pair_add(actor=rec.registrar, patient=rec.patient, before=before, after=after, label="Lips")
    pair = medical.photo_pair_add(
        actor=rec.doctor, patient=rec.patient, before=before, after=after, label="Fillers, lips"
    )
    assert AuditEvent.objects.filter(action="medical.photo_pair_added", after__label="Fillers, lips").exists()
    record = selectors.medical_record(user=rec.doctor, patient=rec.patient)
    assert record.pairs == [pair] and {p.pk for p in record.photos} == {before.pk, after.pk, pdf.pk}
    assert pdf not in record.image_photos
    medical.photo_pair_remove(actor=rec.doctor, pair=pair)
    assert not PhotoPair.objects.exists() and AuditEvent.objects.filter(action="medical.photo_pair_removed").exists()


def test_a_pair_with_a_photo_the_reader_may_not_see_is_not_shown(rec) -> None:
    """A patient's upload is restricted to its doctors: a pair made of it stays hidden from other clinical staff."""
    upload = SimpleUploadedFile("mine.jpg", corpus.jpeg(), content_type="image/jpeg")
    sent = services.document_upload_by_patient(
        actor=rec.patient_user, patient=rec.patient, kind=DocumentKind.PHOTO, title="Rash", upload=upload
    )
    taken = photo(rec, "Rash, clinic")
    medical.photo_pair_add(actor=rec.admin, patient=rec.patient, before=sent, after=taken, label="Rash")
    assert len(selectors.medical_record(user=rec.admin, patient=rec.patient).pairs) == 1
    assert selectors.medical_record(user=rec.nurse, patient=rec.patient).pairs == []


# --- entered in error ----------------------------------------------------------------------------------------------


def test_marking_an_entry_as_entered_in_error_keeps_it_audited_with_a_neutral_timeline_line(rec) -> None:
    entry = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="diagnosis", data={"text": "Lupus"})
    marked = medical.medical_entry_mark_erroneous(actor=rec.doctor, entry=entry, reason="  Wrong   patient ")
    assert isinstance(marked, Diagnosis) and marked.is_erroneous
    entry.refresh_from_db()
    assert entry.status == Diagnosis.Status.ERRONEOUS and entry.status_reason == "Wrong patient"
    assert entry.status_changed_by == rec.doctor and entry.status_changed_at is not None
    event = AuditEvent.objects.get(action="medical.diagnosis_marked_erroneous")
    assert event.object_type == "records.diagnosis" and event.object_id == str(entry.pk)
    assert event.patient_id == rec.patient.pk and event.actor == rec.doctor
    assert event.before == {"status": "active"} and event.after == {"status": "erroneous", "reason": "Wrong patient"}
    line = TimelineEntry.objects.get(kind=TimelineEntry.Kind.MEDICAL, title="Diagnosis marked as entered in error")
    assert line.ref_type == "records.diagnosis" and line.ref_id == str(entry.pk)
    assert "Lupus" not in line.title + line.body and "Wrong patient" not in line.title + line.body  # the desk reads it
    record = selectors.medical_record(user=rec.doctor, patient=rec.patient)
    assert record.diagnoses == [entry]  # still listed, with its status


def test_the_reason_is_required_and_nothing_changes_without_it(rec) -> None:
    entry = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="note", data={"plan": "Retinoid"})
    with pytest.raises(Invalid) as refused:
        medical.medical_entry_mark_erroneous(actor=rec.doctor, entry=entry, reason=" \n ")
    assert refused.value.errors == {"reason": ["Enter the reason."]}
    entry.refresh_from_db()
    assert not entry.is_erroneous and entry.status_reason == ""
    assert not AuditEvent.objects.filter(action="medical.note_marked_erroneous").exists()


def test_marking_twice_is_a_conflict_and_an_erroneous_entry_cannot_be_edited_or_stopped(rec) -> None:
    entry = medical.medical_entry_add(actor=rec.nurse, patient=rec.patient, kind="medication", data={"name": "Zinc"})
    assert isinstance(entry, Medication)
    medical.medical_entry_mark_erroneous(actor=rec.admin, entry=entry, reason="Other patient's drug")
    with pytest.raises(Conflict) as again:
        medical.medical_entry_mark_erroneous(actor=rec.doctor, entry=entry, reason="Duplicate")
    assert again.value.code == "entry_erroneous"
    for language, text in (
        ("ru", "Эта запись уже отмечена как внесённая ошибочно."),
        ("bg", "Този запис вече е отбелязан като въведен погрешно."),
    ):
        with translation.override(language), pytest.raises(Conflict) as translated:
            medical.medical_entry_mark_erroneous(actor=rec.doctor, entry=entry, reason="Duplicate")
        assert str(translated.value.message) == text
    with pytest.raises(Conflict) as edit:
        medical.medical_entry_update(actor=rec.doctor, entry=entry, data={"dose": "50 mg"})
    assert edit.value.code == "entry_erroneous"
    with pytest.raises(Conflict):
        medical.medication_stop(actor=rec.doctor, medication=entry)
    entry.refresh_from_db()
    assert entry.status_reason == "Other patient's drug" and entry.dose == "" and entry.stopped_on is None
    assert AuditEvent.objects.filter(action="medical.medication_marked_erroneous").count() == 1


def test_an_erroneous_medication_is_not_current_and_erroneous_diagnoses_come_after_the_active_ones(rec) -> None:
    wrong = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="medication", data={"name": "A"})
    right = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="medication", data={"name": "B"})
    older = medical.medical_entry_add(
        actor=rec.doctor,
        patient=rec.patient,
        kind="diagnosis",
        data={"text": "Acne", "diagnosed_on": timezone.localdate() - timedelta(days=10)},
    )
    newer = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="diagnosis", data={"text": "Rosacea"})
    medical.allergies_set(actor=rec.doctor, patient=rec.patient, allergies="Latex")
    medical.medical_entry_mark_erroneous(actor=rec.doctor, entry=wrong, reason="Typo")
    medical.medical_entry_mark_erroneous(actor=rec.doctor, entry=newer, reason="Typo")
    record = selectors.medical_record(user=rec.doctor, patient=rec.patient)
    assert record.current_medications == [right] and record.past_medications == []
    assert record.erroneous_medications == [wrong]
    assert record.diagnoses == [older, newer] and not record.diagnoses[0].is_erroneous
    rec.patient.refresh_from_db()
    assert rec.patient.allergies == "Latex"  # allergies are not entries: untouched


def test_who_may_mark_an_entry_as_entered_in_error(rec) -> None:
    """As for documents: administrators, doctors and the author; not another nurse, not the desk, not another clinic
    (which never learns the entry exists), not the patient."""

    def fresh(author) -> Diagnosis:
        entry = medical.medical_entry_add(actor=author, patient=rec.patient, kind="diagnosis", data={"text": "X"})
        assert isinstance(entry, Diagnosis)
        return entry

    nurses_entry = fresh(rec.nurse)
    other_nurse = UserFactory.create(email="olga@example.org")
    member(other_nurse, rec.org, Role.NURSE)
    for actor in (rec.registrar, rec.operator, other_nurse, rec.patient_user):
        with pytest.raises(NotAllowed if actor != rec.patient_user else NotFound):
            medical.medical_entry_mark_erroneous(actor=actor, entry=nurses_entry, reason="x")
    with pytest.raises(NotFound):
        medical.medical_entry_mark_erroneous(actor=rec.outsider, entry=nurses_entry, reason="x")
    nurses_entry.refresh_from_db()
    assert not nurses_entry.is_erroneous
    medical.medical_entry_mark_erroneous(actor=rec.nurse, entry=nurses_entry, reason="Mine, wrong")  # the author
    for actor in (rec.admin, rec.doctor, rec.other_doctor):
        medical.medical_entry_mark_erroneous(actor=actor, entry=fresh(rec.nurse), reason="Wrong")
    assert Diagnosis.objects.filter(status=Diagnosis.Status.ERRONEOUS).count() == 4
