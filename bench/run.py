"""`make bench`: run every benchmark in bench/ (files named bench_*.py), print one table, write JSON results.

Each benchmark module defines `run() -> dict` returning {"name": ..., "figures": {...}, "targets": {...}}; the
runner writes bench/results/<name>.json and a summary table. Benchmarks measure; unit tests never time anything.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def main(selected: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    modules = sorted(BENCH_DIR.glob("bench_*.py"))
    if selected:
        modules = [m for m in modules if any(s in m.stem for s in selected)]
    rows = []
    for path in modules:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        started = time.perf_counter()
        result = module.run()
        result["machine"] = machine()
        result["duration_s"] = round(time.perf_counter() - started, 2)
        result["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        (RESULTS / f"{result['name']}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        for key, value in result["figures"].items():
            rows.append((result["name"], key, value, result.get("targets", {}).get(key, "")))
    if not rows:
        print("no benchmarks found")
        return 0
    width = max(len(f"{r[0]}.{r[1]}") for r in rows)
    print(f"{'benchmark':<{width}}  {'value':>12}  target")
    for name, key, value, target in rows:
        print(f"{name + '.' + key:<{width}}  {value!s:>12}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
