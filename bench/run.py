"""`make bench`: run every benchmark (bench/bench_*.py, each in its own process), then print one table.

Each benchmark writes bench/results/<name>.json with {"name", "figures", "targets", "machine", ...}.
`python bench/run.py race` runs only the benchmarks whose file name contains "race".
Benchmarks measure; unit tests never time anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"


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
    for path in sorted(RESULTS.glob("*.json")):
        if path.stat().st_mtime < started:
            continue
        result = json.loads(path.read_text())
        for key, value in result["figures"].items():
            rows.append((f"{result['name']}.{key}", value, result.get("targets", {}).get(key, "")))
    if rows:
        width = max(len(r[0]) for r in rows)
        print(f"\n{'figure':<{width}}  {'value':>12}  target")
        for name, value, target in rows:
            print(f"{name:<{width}}  {value!s:>12}  {target}")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
