"""Voice messages: accepted by the container's first bytes (WebM, Ogg, M4A), within the size and length limits."""

from __future__ import annotations

from typing import Any

import pytest

from kabinet.consultations import voice
from kabinet.core.exceptions import Invalid
from kabinet.records.files import FileRefused, FileTooLarge
from tests.consultations.conftest import ogg, png, webm


def test_webm_ogg_and_m4a_are_accepted_by_their_bytes() -> None:
    checked, seconds = voice.check_voice(webm(), duration="3.2", name="C:\\rec\\voice.bin")
    assert (checked.content_type, checked.extension, seconds, checked.original_name) == (
        "audio/webm",
        "webm",
        4,
        "voice.bin",
    )
    assert voice.check_voice(ogg(), duration=2)[0].content_type == "audio/ogg"
    m4a = b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00isomM4A " + b"\x00" * 500
    assert voice.check_voice(m4a, duration=1)[0].content_type == "audio/mp4"


@pytest.mark.parametrize(
    "data",
    [
        png(),
        b"%PDF-1.4 not a recording",
        b"MZ\x90\x00program",
        b"<html><script>alert(1)</script></html>",
        b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100,  # a HEIC photo is not sound
        b"\x1a\x45\xdf\xa3" + b"\x00" * 100,  # EBML, but not WebM (e.g. a Matroska video without the doctype)
    ],
)
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(FileRefused) as refused:
        voice.check_voice(data, duration=2)
    assert refused.value.status == 422


def test_markup_inside_a_recording_is_refused() -> None:
    with pytest.raises(FileRefused):
        voice.check_voice(webm()[:80] + b"<script>alert(1)</script>" + b"\x00" * 100, duration=2)


@pytest.mark.parametrize("duration", [None, "", "abc", "0", "-1", "nan", "inf", "301"])
def test_length_must_be_given_and_within_the_limit(duration: Any) -> None:
    with pytest.raises(Invalid) as refused:
        voice.check_voice(webm(), duration=duration)
    assert "duration" in refused.value.errors


def test_over_the_size_limit_is_413(settings: Any) -> None:
    settings.CONSULTATIONS_VOICE_MAX_BYTES = 1000
    with pytest.raises(FileTooLarge) as refused:
        voice.check_voice(webm(2000), duration=2)
    assert refused.value.status == 413


def test_a_length_that_does_not_match_the_size_is_refused(settings: Any) -> None:
    settings.CONSULTATIONS_VOICE_MAX_BYTES = 10 * 1024 * 1024
    with pytest.raises(Invalid) as refused:
        voice.check_voice(webm(3 * 1024 * 1024), duration=1)
    assert refused.value.code == "voice_duration"


def test_an_empty_recording_is_refused() -> None:
    with pytest.raises(FileRefused):
        voice.check_voice(b"", duration=1)
