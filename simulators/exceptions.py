"""Errors raised by the simulators. Each one says what is wrong and what to do instead."""

from __future__ import annotations

from lifeline.exceptions import LifelineError

__all__ = [
    "BadDurationError",
    "BadOptionError",
    "BadStartError",
    "DeliveryFailedError",
    "HydraulicModelError",
    "ReplayInputError",
    "SimulatorError",
    "UnknownScenarioError",
]


class SimulatorError(LifelineError):
    """Base class of every simulator error (the CLI turns it into a message and exit code 2)."""


class UnknownScenarioError(SimulatorError):
    """The scenario name is not one of the named scenarios."""

    def __init__(self, name: str, known: list[str], why: str = "") -> None:
        self.name = name
        if why:  # a water:<file> whose file cannot be used: the reason is what matters, not the list
            super().__init__(f"unknown scenario {name!r}: {why}; water:<EPANET file.inp> takes a model wntr can read")
            return
        super().__init__(
            f"unknown scenario {name!r}; known scenarios: {', '.join(known)}, or water:<EPANET file.inp> "
            "(see `lifeline scenarios`)"
        )


class BadDurationError(SimulatorError):
    """A duration string could not be parsed or is not positive."""

    def __init__(self, text: str, why: str = "") -> None:
        hint = "use a number of seconds or units like 90s, 15m, 6h, 2d, 1h30m"
        super().__init__(f"bad duration {text!r}{': ' + why if why else ''}; {hint}")


class BadStartError(SimulatorError):
    """A start time is not an aware ISO-8601 UTC time."""

    def __init__(self, text: str, why: str) -> None:
        super().__init__(f"bad start time {text!r}: {why}; use e.g. 2024-07-15T00:00:00Z")


class ReplayInputError(SimulatorError):
    """A replay input folder or file is missing or has an unexpected layout."""


class BadOptionError(SimulatorError, ValueError):
    """An option of a simulator call is out of its range (a format, a speed); the message lists what works."""


class DeliveryFailedError(SimulatorError):
    """Kafka did not take every simulated message; check the broker (``lifeline services status``)."""


class HydraulicModelError(SimulatorError):
    """SWMM (through pyswmm) or EPANET (through wntr) refused or failed a model; the message carries its reason."""
