"""The portal tests use the calendar's small clinic (a doctor working the day after tomorrow)."""

from tests.scheduling.conftest import clinic, ward  # noqa: F401
