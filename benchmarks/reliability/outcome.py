"""What a reliability scenario reports: passed or not, its figures, and every problem it saw."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Outcome", "Size"]

Size = Literal["ci", "full"]
"""``ci``: small enough for the test suite (seconds to a minute); ``full``: the benchmark's size."""


@dataclass(frozen=True)
class Outcome:
    """The result of one reliability scenario.

    ``figures`` are printed as the scenario's row in ``bench_reliability`` (counts, seconds, bytes);
    ``problems`` lists every difference from the reference or broken expectation, empty when passed.
    """

    scenario: str
    figures: dict[str, int | float | str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the scenario saw no problem."""
        return not self.problems
