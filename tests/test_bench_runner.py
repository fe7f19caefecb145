"""bench/run.py's regression column: each figure against the committed baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run


def test_ratio_compares_numbers_only() -> None:
    assert run.ratio(250, 500) == "0.50"
    assert run.ratio(1.5, 1.5) == "1.00"
    assert run.ratio(3, 0) == ""  # no base to compare with
    assert run.ratio("postgresql", "postgresql") == ""
    assert run.ratio(True, 1) == ""
    assert run.ratio(3, None) == ""  # a figure new since the baseline


def test_save_baseline_merges_every_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "race.json").write_text(json.dumps({"name": "race", "figures": {"sqlite.rows": 1}}))
    (results / "slots.json").write_text(json.dumps({"name": "slots", "figures": {"postgres.p95_ms": 80.5}}))
    monkeypatch.setattr(run, "RESULTS", results)
    monkeypatch.setattr(run, "BASELINE", tmp_path / "baseline.json")
    monkeypatch.setattr(run, "BENCH_DIR", tmp_path / "bench")
    run.save_baseline()
    assert json.loads((tmp_path / "baseline.json").read_text()) == {
        "race.sqlite.rows": 1,
        "slots.postgres.p95_ms": 80.5,
    }
