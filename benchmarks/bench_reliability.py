"""Every reliability scenario at full size on real servers, in one table.

    python -m benchmarks.bench_reliability               # all scenarios, full size (long)
    python -m benchmarks.bench_reliability --size ci     # the test suite's quick size
    python -m benchmarks.bench_reliability --only kills  # one scenario (repeatable)

A scenario that needs to kill or stop a server starts its own; the others share one pair of
servers started here. A scenario module that is not in this checkout is listed as "not present".
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType

from benchmarks.reliability.outcome import Outcome, Size
from lifeline.settings import Settings

SCENARIOS = ("kills", "kafka_outage", "questdb_outage", "fuzz", "cluster_kill", "netns", "slow_clients")
#: the figures shown as columns, in this order; any other figure goes to the "other" column
COLUMNS = ("readings", "kills", "outages", "fuzz", "duplicates", "memory_mb", "seconds")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios, print one table; exit 1 if any scenario failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("ci", "full"), default="full", help="scenario size (default full)")
    parser.add_argument("--only", action="append", choices=SCENARIOS, metavar="NAME",
                        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}")  # fmt: skip
    args = parser.parse_args(argv)
    size: Size = args.size
    names = args.only or list(SCENARIOS)
    rows = list(_run_all(names, size))
    _print_table(rows, size)
    return 0 if all(outcome is None or outcome.passed for _name, outcome in rows) else 1


def _run_all(names: list[str], size: Size) -> Iterator[tuple[str, Outcome | None]]:
    """Each scenario's outcome (None: module not present); one shared server pair started on demand."""
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="lifeline-reliability-") as tmp:
        shared: list[Settings] = []
        for name in names:
            module = _load(name)
            if module is None:
                print(f"== {name}: not present")
                yield name, None
                continue
            workdir = Path(tmp) / name
            workdir.mkdir()
            print(f"== {name} ({size})", flush=True)
            kwargs: dict[str, object] = {}
            if "services" in inspect.signature(module.run).parameters:
                if not shared:
                    from benchmarks._servers import real_servers

                    shared.append(stack.enter_context(real_servers()))
                kwargs["services"] = shared[0]
            yield name, _run_one(name, module, size, workdir, kwargs)


def _load(name: str) -> ModuleType | None:
    """The scenario module, or None when this checkout does not have it."""
    try:
        return importlib.import_module(f"benchmarks.reliability.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"benchmarks.reliability.{name}":
            return None
        raise


def _run_one(name: str, module: ModuleType, size: Size, workdir: Path, kwargs: dict[str, object]) -> Outcome:
    """Run one scenario; a scenario that raises is a failed row, not the end of the benchmark."""
    started = time.monotonic()
    try:
        outcome: Outcome = module.run(size=size, workdir=workdir, report=lambda line: print(f"  {line}", flush=True),
                                      **kwargs)  # fmt: skip
    except Exception as exc:  # any failure of one scenario is reported in its row
        traceback.print_exc()
        return Outcome(name, {"seconds": round(time.monotonic() - started, 1)}, [f"raised {exc!r}"])
    for problem in outcome.problems:
        print(f"  problem: {problem}")
    return outcome


def _print_table(rows: list[tuple[str, Outcome | None]], size: Size) -> None:
    print(f"\n== reliability scenarios, size {size}")
    print(f"{'scenario':<16} {'passed':<12}" + "".join(f" {c:>12}" for c in COLUMNS) + "  other")
    for name, outcome in rows:
        if outcome is None:
            print(f"{name:<16} {'not present':<12}")
            continue
        cells = "".join(f" {_cell(outcome.figures.get(c, '-')):>12}" for c in COLUMNS)
        other = ", ".join(f"{k}={_cell(v)}" for k, v in outcome.figures.items() if k not in COLUMNS)
        verdict = "yes" if outcome.passed else f"NO ({len(outcome.problems)})"
        print(f"{name:<16} {verdict:<12}{cells}  {other}")


def _cell(value: int | float | str) -> str:
    if isinstance(value, (bool, str)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


if __name__ == "__main__":
    raise SystemExit(main())
