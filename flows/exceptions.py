"""Errors of the dataflow package, all under :class:`~lifeline.exceptions.LifelineError`.

Each message says what is wrong and what to do; the CLI prints it and exits with code 2.
"""

from __future__ import annotations

from lifeline.exceptions import LifelineError

__all__ = ["DetectInputError", "FlowError", "KafkaReadError", "TopicMissingError"]


class FlowError(LifelineError):
    """The dataflow cannot start or run as configured."""


class TopicMissingError(FlowError):
    """The readings topic does not exist (create it with ``lifeline schema apply``)."""

    def __init__(self, topic: str) -> None:
        super().__init__(
            f"topic {topic!r} does not exist; run `lifeline schema apply` (or check LIFELINE_READINGS_TOPIC)"
        )


class KafkaReadError(FlowError):
    """Kafka reported an error that reading on cannot get past."""


class DetectInputError(LifelineError):
    """The input file of ``lifeline detect`` cannot be used (missing column, bad timestamp, ...)."""
