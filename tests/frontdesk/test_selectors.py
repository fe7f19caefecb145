"""Reads for the lists keep a fixed number of queries whatever the number of calls."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kabinet.frontdesk import selectors
from kabinet.frontdesk.models import WorklistItem
from kabinet.frontdesk.services.worklists import AttemptInput, attempt_record, confirmations_generate
from tests.factories import PatientFactory
from tests.frontdesk.conftest import Desk

pytestmark = pytest.mark.django_db
TIMES = [(9, 0), (9, 30), (10, 0), (10, 30), (11, 0), (12, 0), (12, 30), (13, 0)]


def _book_and_call(desk: Desk, times: list[tuple[int, int]]) -> None:
    for hour, minute in times:
        patient = PatientFactory.create(organisation=desk.org, family_name=f"Caller{hour}{minute}")
        desk.book(patient, hour, minute)
    confirmations_generate(actor=None, organisation=desk.org, day=desk.call_day)
    for item in WorklistItem.objects.filter(attempts=0):
        attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome="no_answer"), now=desk.call_at(11))


def _queries(desk: Desk) -> int:
    with CaptureQueriesContext(connection) as captured:
        for item in selectors.worklist(
            user=desk.registrar, organisation=desk.org, kind="confirmations", day=desk.call_day
        ):
            assert item.appointment is not None
            str(item.patient), str(item.appointment.practitioner.user), item.appointment.service.display_name()
            [str(a.operator) for a in item.call_attempts.all()]
        selectors.board(user=desk.registrar, organisation=desk.org, day=desk.call_day)
    return len(captured.captured_queries)


def test_the_worklist_and_the_board_read_in_a_fixed_number_of_queries(
    desk: Desk, django_assert_max_num_queries: Any
) -> None:
    _book_and_call(desk, TIMES[:2])
    few = _queries(desk)
    _book_and_call(desk, TIMES[2:])
    assert WorklistItem.objects.count() == len(TIMES)
    with django_assert_max_num_queries(few):
        _queries(desk)
