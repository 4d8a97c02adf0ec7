"""The water benchmark's matching of alerts to leaks: each alert credits at most one leak, for the detector and for
the chance control alike, so that leaks overlapping in time do not all count as found through one alert."""

from __future__ import annotations

from benchmarks.bench_water import match_alerts


def test_one_alert_inside_two_overlapping_windows_credits_one_leak() -> None:
    assert match_alerts([(0, 100), (50, 150)], [60]) == [60, None]


def test_an_alert_goes_to_the_window_that_ends_first_so_a_later_alert_can_serve_the_other() -> None:
    # crediting 60 to the long window (0, 200) would leave (50, 100) without any: 150 lies outside it
    assert match_alerts([(0, 200), (50, 100)], [60, 150]) == [150, 60]


def test_alerts_outside_every_window_credit_nothing() -> None:
    assert match_alerts([(10, 20), (30, 40)], [0, 25, 50]) == [None, None]


def test_each_window_takes_its_earliest_free_alert() -> None:
    # the delay reported for a burst is from its earliest alert not taken by a leak whose window ends sooner
    assert match_alerts([(0, 100)], [90, 20, 50]) == [20]
    assert match_alerts([(0, 30), (0, 100)], [90, 20, 50]) == [20, 50]


def test_no_alerts_credit_nothing_and_no_windows_take_nothing() -> None:
    assert match_alerts([(0, 10)], []) == [None]
    assert match_alerts([], [5]) == []
