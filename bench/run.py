"""`make bench`: run every benchmark (bench/bench_*.py, each in its own process), then print one table.

Each benchmark writes bench/results/<name>.json with {"name", "figures", "targets", "machine", ...}.
`python bench/run.py race` runs only the benchmarks whose file name contains "race".
Benchmarks measure; unit tests never time anything.

Regressions: bench/baseline.json holds the figures of a reference run (committed); the table shows each numeric
figure's ratio to it. `python bench/run.py --save-baseline` makes the latest results (all of bench/results/) the
new baseline — do that on purpose, with the machine noted in docs/performance.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
BASELINE = BENCH_DIR / "baseline.json"


def _figures(paths: list[Path]) -> dict[str, object]:
    figures: dict[str, object] = {}
    for path in paths:
        result = json.loads(path.read_text())
        figures.update({f"{result['name']}.{key}": value for key, value in result["figures"].items()})
    return figures


def ratio(value: object, base: object) -> str:
    """value / baseline for numbers ("1.00" = unchanged); empty when either is not a number or the base is 0."""
    numbers = (int, float)
    if isinstance(value, bool) or isinstance(base, bool) or not isinstance(value, numbers):
        return ""
    if not isinstance(base, numbers) or base == 0:
        return ""
    return f"{value / base:.2f}"


def save_baseline() -> int:
    figures = _figures(sorted(RESULTS.glob("*.json")))
    BASELINE.write_text(json.dumps(figures, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(figures)} figures saved to {BASELINE.relative_to(BENCH_DIR.parent)}")
    return 0


def main(selected: list[str]) -> int:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if selected:
        scripts = [s for s in scripts if any(word in s.stem for word in selected)]
    failed = []
    started = time.time()
    for script in scripts:
        print(f"--- {script.stem}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=BENCH_DIR.parent).returncode != 0:
            failed.append(script.stem)
    rows = []
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    for path in sorted(RESULTS.glob("*.json")):
        if path.stat().st_mtime < started:
            continue
        result = json.loads(path.read_text())
        for key, value in result["figures"].items():
            name = f"{result['name']}.{key}"
            rows.append((name, value, ratio(value, baseline.get(name)), result.get("targets", {}).get(key, "")))
    if rows:
        width = max(len(r[0]) for r in rows)
        print(f"\n{'figure':<{width}}  {'value':>12}  {'/baseline':>9}  target")
        for name, value, versus, target in rows:
            print(f"{name:<{width}}  {value!s:>12}  {versus:>9}  {target}")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(save_baseline() if sys.argv[1:] == ["--save-baseline"] else main(sys.argv[1:]))
