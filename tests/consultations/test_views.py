"""The consultation pages: staff conversations, queue, panel, contracts and report; the patient's list and
conversation (emergency line, read-only after the end, rating); sending without JavaScript."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from kabinet.accounts.models import User
from kabinet.consultations import reports, services
from kabinet.consultations.models import ConsultationContract, ConsultationMessage, ConsultationRequest, ContractRating
from tests.consultations.conftest import EMERGENCY, Consult

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]


def test_the_doctor_sees_the_conversation_with_the_patients_documents_beside_it(
    consult: Consult, login_client: Login
) -> None:
    services.message_send(actor=consult.patient_user, conversation=consult.conversation, text="My knee hurts")
    page = login_client(consult.doctor_user).get(f"/consultations/c/{consult.conversation.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "My knee hurts" in html and "reply by" in html
    assert f"/patients/{consult.clinic.patient.pk}/?tab=documents" in html
    assert 'data-side="staff"' in html and "data-voice" in html
    assert "pat@example.org" not in html  # the patient's contacts are not part of the conversation


@pytest.mark.parametrize("who", ["other_doctor_user", "outsider"])
def test_staff_not_on_the_contract_get_404(consult: Consult, login_client: Login, who: str) -> None:
    response = login_client(getattr(consult, who)).get(f"/consultations/c/{consult.conversation.pk}/")
    assert response.status_code in (403, 404)
    assert "Patient Petya" not in response.content.decode()


def test_the_patient_page_has_the_emergency_line_and_sends_without_javascript(
    consult: Consult, login_client: Login
) -> None:
    client = login_client(consult.patient_user)
    listing = client.get("/my/consultations/")
    assert listing.status_code == 200 and "Dr Dana" in listing.content.decode()
    url = f"/my/consultations/{consult.conversation.pk}/"
    page = client.get(url)
    html = page.content.decode()
    assert f'href="tel:{EMERGENCY}"' in html
    assert "doc@example.org" not in html
    sent = client.post(url, {"action": "message", "m-text": "Written without JavaScript"})
    assert sent.status_code == 302
    assert ConsultationMessage.objects.get().text == "Written without JavaScript"
    bad = client.post(url, {"action": "reading", "r-kind": "blood_pressure", "r-systolic": "900", "r-diastolic": "80"})
    assert bad.status_code == 422 and "900 mmHg is not possible" in bad.content.decode()
    empty = client.post(url, {"action": "message", "m-text": ""})
    assert empty.status_code == 422


def test_messages_partial_returns_what_came_after_an_id(consult: Consult, login_client: Login) -> None:
    first = services.message_send(actor=consult.patient_user, conversation=consult.conversation, text="first")
    services.message_send(actor=consult.doctor_user, conversation=consult.conversation, text="second")
    client = login_client(consult.patient_user)
    part = client.get(f"/my/consultations/{consult.conversation.pk}/messages/", {"after": first.pk}).content.decode()
    assert "second" in part and "first" not in part
    assert (
        login_client(consult.other_patient_user)
        .get(f"/my/consultations/{consult.conversation.pk}/messages/")
        .status_code
        == 404
    )


def test_after_the_end_the_patient_reads_cannot_write_and_rates(consult: Consult, login_client: Login) -> None:
    services.message_send(actor=consult.patient_user, conversation=consult.conversation, text="history")
    services.contract_end(actor=consult.admin, contract=consult.contract)
    client = login_client(consult.patient_user)
    url = f"/my/consultations/{consult.conversation.pk}/"
    html = client.get(url).content.decode()
    assert "history" in html and 'data-closed="true"' in html
    assert 'data-send="message"' not in html and "How was your consultation?" in html
    refused = client.post(url, {"action": "message", "m-text": "hello?"}, follow=True)
    assert "no longer write" in refused.content.decode()
    assert ConsultationMessage.objects.count() == 1
    client.post(f"/my/consultations/contracts/{consult.contract.pk}/rate/", {"score": "5", "comment": "Thanks"})
    assert ContractRating.objects.get().score == 5
    assert "How was your consultation?" not in client.get(url).content.decode()


def test_the_administrator_opens_a_contract_from_the_patients_card(consult: Consult, login_client: Login) -> None:
    client = login_client(consult.admin)
    card = client.get(f"/patients/{consult.other_patient.pk}/?tab=consultations")
    assert card.status_code == 200
    assert f"/consultations/contracts/new/?patient={consult.other_patient.pk}" in card.content.decode()
    form = client.get(f"/consultations/contracts/new/?patient={consult.other_patient.pk}")
    assert form.status_code == 200 and "Other Olga" in form.content.decode()
    today = timezone.localdate()
    response = client.post(
        f"/consultations/contracts/new/?patient={consult.other_patient.pk}",
        {
            "patient": consult.other_patient.pk,
            "doctor": consult.clinic.other_doctor.pk,
            "kind": "written",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=10)).isoformat(),
            "price": "20",
            "sla_hours": "24",
            "activate": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    contract = ConsultationContract.objects.get(patient=consult.other_patient)
    assert contract.status == "active" and contract.payment_state == "unpaid"
    end = client.post(f"/consultations/contracts/{contract.pk}/end/", {"reason": "done"})
    assert end.status_code == 302
    contract.refresh_from_db()
    assert contract.status == "ended"


def test_doctors_cannot_open_contracts_from_the_page(consult: Consult, login_client: Login) -> None:
    assert login_client(consult.doctor_user).get("/consultations/contracts/new/").status_code == 403


def test_the_panel_shows_overdue_conversations_for_administrators_only(consult: Consult, login_client: Login) -> None:
    services.message_send(
        actor=consult.patient_user,
        conversation=consult.conversation,
        text="waiting",
        now=timezone.now() - timedelta(hours=30),
    )
    html = login_client(consult.admin).get("/consultations/panel/").content.decode()
    assert f'data-conversation="{consult.conversation.pk}" data-overdue="true"' in html
    assert "▲ 1" in html and "↑ 1" in html
    assert login_client(consult.doctor_user).get("/consultations/panel/").status_code == 404


def test_the_queue_page_takes_the_next_request_and_answers_it(consult: Consult, login_client: Login) -> None:
    request = services.request_create(
        actor=consult.patient_user, patient=consult.clinic.patient, kind="question", question="Diet after surgery?"
    )
    doctor = login_client(consult.doctor_user)
    assert "Diet after surgery?" in doctor.get("/consultations/queue/").content.decode()
    taken = doctor.post("/consultations/queue/")
    assert taken.status_code == 302 and taken["Location"] == f"/consultations/requests/{request.pk}/"
    doctor.post(f"/consultations/requests/{request.pk}/", {"answer": "Light food for a week."})
    request.refresh_from_db()
    assert request.status == ConsultationRequest.Status.ANSWERED
    patient_page = login_client(consult.patient_user).get("/my/consultations/").content.decode()
    assert "Light food for a week." in patient_page


def test_the_patient_asks_a_question_from_the_portal(consult: Consult, login_client: Login) -> None:
    client = login_client(consult.patient_user)
    response = client.post(
        "/my/consultations/", {"patient": consult.clinic.patient.pk, "kind": "question", "question": "?"}
    )
    assert response.status_code == 302
    assert ConsultationRequest.objects.get().question == "?"


def test_monthly_report_page_and_csv(consult: Consult, login_client: Login) -> None:
    zone = consult.clinic.location.zone
    start = datetime(2026, 2, 10, 9, 0, tzinfo=zone)
    for minutes in (30, 60, 90, 120, 30 * 60):
        asked = start + timedelta(days=minutes % 7)
        services.message_send(actor=consult.patient_user, conversation=consult.conversation, text="q", now=asked)
        services.message_send(
            actor=consult.doctor_user,
            conversation=consult.conversation,
            text="a",
            now=asked + timedelta(minutes=minutes),
        )
    rows = reports.monthly_report(organisation=consult.clinic.org, month=date(2026, 2, 1))
    dana = next(r for r in rows if r.doctor == consult.clinic.doctor)
    assert (dana.answered, dana.median_minutes, dana.p90_minutes, dana.breaches) == (5, 90.0, 1800.0, 1)
    client = login_client(consult.admin)
    assert "Messages answered" in client.get("/consultations/reports/?month=2026-02").content.decode()
    exported = client.get("/consultations/reports/?month=2026-02&format=csv")
    assert exported["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.content.decode())))
    assert table[0][:3] == ["Month", "Doctor", "Messages answered"]
    assert next(r for r in table if r[1] == "Dr Dana")[:6] == ["2026-02", "Dr Dana", "5", "90.0", "1800.0", "1"]
    assert login_client(consult.doctor_user).get("/consultations/reports/").status_code == 403


def test_files_are_served_to_participants_only(consult: Consult, login_client: Login) -> None:
    from tests.consultations.conftest import png

    message = services.message_send(actor=consult.patient_user, conversation=consult.conversation, upload=png())
    url = f"/consultations/files/{message.pk}/"
    download = login_client(consult.doctor_user).get(url)
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    inline = login_client(consult.patient_user).get(url, {"inline": "1"})
    assert inline.status_code == 200 and "sandbox" in inline["Content-Security-Policy"]
    assert login_client(consult.other_doctor_user).get(url).status_code == 404


def test_readings_chart_for_both_sides_with_the_normal_range(consult: Consult, login_client: Login) -> None:
    for systolic in (120, 150):
        services.message_send(
            actor=consult.patient_user,
            conversation=consult.conversation,
            reading={"kind": "blood_pressure", "values": {"systolic": systolic, "diastolic": 80}},
        )
    page = login_client(consult.doctor_user).get(f"/consultations/c/{consult.conversation.pk}/readings/")
    assert page.status_code == 200
    chart = page.context["chart"]
    systolic_series = next(s for s in chart["series"] if s["name"] == "systolic")
    assert (systolic_series["low"], systolic_series["high"]) == (90.0, 140.0)
    assert [p["out"] for p in systolic_series["points"]] == [False, True]
    html = page.content.decode()
    assert "vendor/chartjs/chart.umd.min.js" in html and 'id="chart-data"' in html
    patient = login_client(consult.patient_user)
    assert patient.get(f"/my/consultations/{consult.conversation.pk}/readings/?kind=blood_pressure").status_code == 200
    assert "My readings on a chart" in patient.get(f"/my/consultations/{consult.conversation.pk}/").content.decode()
    stranger = login_client(consult.other_patient_user)
    assert stranger.get(f"/my/consultations/{consult.conversation.pk}/readings/").status_code == 404


def test_administrators_review_a_stable_sample_and_the_report_averages_it(
    consult: Consult, login_client: Login
) -> None:
    from kabinet.consultations.models import QualityReview
    from kabinet.core.exceptions import Conflict, NotAllowed

    with pytest.raises(Conflict):  # nothing written yet
        services.quality_review_save(actor=consult.admin, contract=consult.contract, score=4)
    services.message_send(actor=consult.patient_user, conversation=consult.conversation, text="q")
    services.message_send(actor=consult.doctor_user, conversation=consult.conversation, text="a")
    with pytest.raises(NotAllowed):
        services.quality_review_save(actor=consult.doctor_user, contract=consult.contract, score=5)
    month = timezone.localdate().replace(day=1)
    first = reports.review_sample(organisation=consult.clinic.org, month=month, reviewer=consult.admin)
    assert [row.contract for row in first] == [consult.contract] and first[0].messages == 2
    client = login_client(consult.admin)
    page = client.get("/consultations/reviews/")
    assert page.status_code == 200 and f'data-contract="{consult.contract.pk}"' in page.content.decode()
    client.post(f"/consultations/reviews/{consult.contract.pk}/", {"score": "3", "comment": "late advice"})
    client.post(f"/consultations/reviews/{consult.contract.pk}/", {"score": "4", "comment": "fine"})
    review = QualityReview.objects.get()
    assert (review.score, review.comment, review.doctor) == (4, "fine", consult.clinic.doctor)
    again = reports.review_sample(organisation=consult.clinic.org, month=month, reviewer=consult.admin)
    assert again[0].review == review
    rows = reports.monthly_report(organisation=consult.clinic.org, month=month)
    dana = next(r for r in rows if r.doctor == consult.clinic.doctor)
    assert (dana.reviews, dana.quality) == (1, Decimal("4.00"))
    assert login_client(consult.doctor_user).get("/consultations/reviews/").status_code == 403
