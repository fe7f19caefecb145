"""Offset paging of the API's lists: one page of a queryset, with the total number of rows in a response header
(each list endpoint says so in its description)."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpResponse

TOTAL_COUNT_HEADER = "X-Total-Count"

M = TypeVar("M", bound=Model)


def page(response: HttpResponse, rows: QuerySet[M], *, offset: int, limit: int) -> QuerySet[M]:
    """Rows `offset` to `offset + limit` of `rows`; their total count goes in the X-Total-Count header."""
    response[TOTAL_COUNT_HEADER] = str(rows.count())
    return rows[offset : offset + limit]
