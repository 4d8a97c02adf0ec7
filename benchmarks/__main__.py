"""``python -m benchmarks``: list the benchmarks (each runs on its own: ``python -m benchmarks.bench_flow``)."""

import pkgutil
from pathlib import Path

names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
print("benchmarks (run one with: python -m benchmarks.<name> --help):")
for name in names:
    print(f"  {name}")
