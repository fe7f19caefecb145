"""Device readings: impossible values are refused with a message naming the value; normal ranges flag readings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kabinet.consultations import readings
from kabinet.core.exceptions import Invalid


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        ("blood_pressure", {"systolic": 900, "diastolic": 80}, "systolic"),
        ("blood_pressure", {"systolic": 120, "diastolic": 5}, "diastolic"),
        ("blood_pressure", {"systolic": 120, "diastolic": 80, "pulse": 400}, "pulse"),
        ("blood_pressure", {"systolic": 80, "diastolic": 120}, "diastolic"),
        ("blood_pressure", {"systolic": "abc", "diastolic": 80}, "systolic"),
        ("blood_pressure", {"systolic": "nan", "diastolic": 80}, "systolic"),
        ("blood_pressure", {"diastolic": 80}, "systolic"),
        ("glucose", {"glucose": 0}, "glucose"),
        ("weight", {"weight": 900}, "weight"),
        ("temperature", {"temperature": 52}, "temperature"),
        ("spo2", {"spo2": 101}, "spo2"),
        ("spo2", {"spo2": True}, "spo2"),
    ],
)
def test_impossible_values_are_refused(kind: str, values: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        readings.clean_values(kind, values)
    assert field in refused.value.errors
    assert refused.value.status == 422


def test_systolic_900_names_the_value() -> None:
    with pytest.raises(Invalid) as refused:
        readings.clean_values("blood_pressure", {"systolic": "900", "diastolic": "80"})
    assert "900 mmHg is not possible" in refused.value.errors["systolic"][0]


def test_values_are_numbers_with_decimal_commas_accepted() -> None:
    assert readings.clean_values("blood_pressure", {"systolic": "130", "diastolic": 85, "pulse": ""}) == {
        "systolic": 130,
        "diastolic": 85,
    }
    assert readings.clean_values("temperature", {"temperature": "37,8"}) == {"temperature": 37.8}
    assert readings.clean_values("ecg", {}) == {}


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(Invalid):
        readings.clean_values("cholesterol", {})


def test_measurement_time_is_neither_future_nor_ancient() -> None:
    now = timezone.now()
    assert readings.clean_measured_at(None, now) == now
    assert readings.clean_measured_at((now - timedelta(hours=1)).isoformat(), now) == now - timedelta(hours=1)
    for bad in (now + timedelta(hours=2), now - timedelta(days=400), "yesterday"):
        with pytest.raises(Invalid):
            readings.clean_measured_at(bad, now)


def test_normal_ranges_flag_readings_and_clinic_thresholds_win() -> None:
    ranges = readings.ranges_for({})
    assert readings.out_of_range({"systolic": 150, "diastolic": 85}, ranges) == ["systolic"]
    assert readings.out_of_range({"spo2": 97}, ranges) == []
    own = readings.ranges_for({"systolic": (Decimal(90), Decimal(160))})
    assert readings.out_of_range({"systolic": 150, "diastolic": 85}, own) == []


def test_summary_line() -> None:
    assert (
        readings.summary("blood_pressure", {"systolic": 130, "diastolic": 85, "pulse": 70})
        == "130/85 mmHg, pulse 70/min"
    )
    assert readings.summary("glucose", {"glucose": 5.4}) == "5.4 mmol/L"
