"""Template helpers of the consultation pages: who wrote a message, a reading in one line, a voice message's
length."""

from __future__ import annotations

from typing import Any

from django import template

from kabinet.consultations import notices, readings

register = template.Library()


@register.simple_tag
def message_author(message: Any, viewer_side: str) -> str:
    return notices.author_name(message)


@register.simple_tag
def reading_summary(reading: Any) -> str:
    return readings.summary(reading.kind, reading.values)


@register.filter
def duration(seconds: Any) -> str:
    """m:ss"""
    try:
        total = int(seconds)
    except (TypeError, ValueError):
        return ""
    return f"{total // 60}:{total % 60:02d}"


@register.simple_tag
def doctor_name(member: Any) -> str:
    return notices.doctor_name(member)
