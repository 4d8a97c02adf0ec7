"""The reliability harness's comparison: what counts as a difference and what as a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.reliability._compare import RunDigest, TableDigest, TopicDigest, _normalised, compare_runs
from lifeline.settings import Settings

_TABLES = {"readings": TableDigest(2, "ab"), "alert_events": TableDigest(1, "cd")}
_OPENED = ("A-1", "opened", 1_721_000_000_000, 1)
_CLEARED = ("A-1", "cleared", 1_721_000_600_000, 1)


def _digest(alerts: list[tuple[str, str, int, int]], dlq: list[bytes]) -> RunDigest:
    return RunDigest(dict(_TABLES), TopicDigest(frozenset(alerts), len(alerts)), TopicDigest(frozenset(dlq), len(dlq)))


def test_repeated_kafka_messages_are_duplicates_not_differences() -> None:
    reference = _digest([_OPENED, _CLEARED], [b"r1"])
    repeated = RunDigest(
        dict(_TABLES), TopicDigest(frozenset([_OPENED, _CLEARED]), 3), TopicDigest(frozenset([b"r1"]), 2)
    )
    settings = Settings()
    assert compare_runs(reference, repeated, reference_settings=settings, candidate_settings=settings) == []
    assert repeated.alerts.duplicates == 1
    assert repeated.dlq.duplicates == 1


def test_a_missing_alert_and_an_extra_dlq_message_are_differences() -> None:
    reference = _digest([_OPENED, _CLEARED], [b"r1"])
    candidate = _digest([_OPENED], [b"r1", b"r2"])
    settings = Settings()
    problems = compare_runs(reference, candidate, reference_settings=settings, candidate_settings=settings)
    assert len(problems) == 2
    assert problems[0].startswith("topic alerts: 1 missing")
    assert "cleared" in problems[0]
    assert problems[1].startswith("topic dlq: 0 missing") and "1 extra" in problems[1]


def test_rows_hash_alike_only_when_equal_to_twelve_digits() -> None:
    ts = datetime(2024, 7, 1, 3, tzinfo=UTC)
    assert _normalised(("S-1", 0.1 + 0.2, ts)) == _normalised(("S-1", 0.3, ts))  # last-bit float noise
    assert _normalised(("S-1", -0.0, ts)) == _normalised(("S-1", 0.0, ts))
    assert _normalised(("S-1", 0.3001, ts)) != _normalised(("S-1", 0.3, ts))
    assert _normalised(("S-1", None, ts)) != _normalised(("S-1", "", ts))
