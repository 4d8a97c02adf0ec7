"""The water benchmark's matching of alerts to leaks: each alert credits at most one leak, for the detector and for
the chance control alike, so that leaks overlapping in time do not all count as found through one alert."""

from __future__ import annotations

from benchmarks.bench_water import match_alerts, unaccounted_alerts
from lifeline.simulators.hydraulic import Leak


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


H = 3_600_000
D = 24 * H


def _leak(shape: str, start: int, end: int, m3h: float) -> Leak:
    peak = start if shape == "burst" else start + D
    return Leak(f"{shape}-{start}", "n1", shape, start, peak, end, m3h, True)


def test_alerts_no_leak_of_any_size_explains_are_unaccounted_duplicates_included() -> None:
    small_burst = _leak("burst", 10 * D, 11 * D, 3.0)  # under the 5 m³/h the burst recall counts: still explains
    burst = _leak("burst", 20 * D, 20 * D + 5 * H, 12.0)
    incipient = _leak("incipient", 30 * D, 40 * D, 1.5)  # under 2 m³/h: still explains a background-leak alert
    leaks = [small_burst, burst, incipient]
    bursts = [10 * D + H, 20 * D + H, 20 * D + 2 * H, 25 * D]  # one per burst, a duplicate, one with no burst
    nights = [35 * D, 40 * D + 12 * H, 50 * D]  # the incipient leak, a second one for it, one with no leak running
    # burst alerts: the small burst and the burst each explain one; the duplicate and day 25 are unaccounted.
    # night alerts: day 35 is the incipient leak's; day 40 + 12 h lies in its window too, but the leak already has
    # its alert; day 50 lies in no window: two unaccounted
    assert unaccounted_alerts(leaks, bursts, nights) == 4
    assert unaccounted_alerts(leaks, [], []) == 0
    assert unaccounted_alerts([], bursts, nights) == len(bursts) + len(nights)
