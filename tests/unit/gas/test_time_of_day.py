"""The time-of-day profile: learns 24 hourly slots, judges a slot only after three days of history, is robust to
the anomalies it should find, and stays small."""

from __future__ import annotations

import math
import pickle

import numpy as np

from lifeline.detectors.time_of_day import PROFILE_BYTES, TimeOfDayProfile

from .helpers import DAY, HOUR, SET_POINT, STEP, T0, Station, pressure, pressure_spec

WINDOW = 10 * 60_000


def level(t: int) -> float:
    """A daily swing of ±2 % around the set point, lowest at 18:00 local (T0 is local midnight)."""
    return SET_POINT * (1.0 - 0.02 * math.cos(2 * math.pi * ((t - T0) / HOUR - 6) / 24))


def test_a_slot_judges_only_after_its_hour_was_seen_on_three_days() -> None:
    profile = TimeOfDayProfile.new(window_ms=WINDOW)
    for t in range(T0, T0 + 3 * DAY, STEP):
        judged = profile.expected(t)
        hours_seen_before = (t - T0) // DAY  # days on which this local hour was complete before t
        assert (judged is not None) == (hours_seen_before >= 3), (t - T0) / HOUR
        profile.observe(t, level(t))
    profile.observe(T0 + 3 * DAY, level(T0 + 3 * DAY))  # closes the last window of day 3
    for hour in range(24):
        t = T0 + 3 * DAY + hour * HOUR + HOUR // 2  # mid-slot: no interpolation
        judged = profile.expected(t)
        assert judged is not None
        # the slot's mean is the mean of its window means: a window [s, s+10 min) of two readings at s, s+5 min
        slot_means = [(level(s) + level(s + STEP)) / 2 for s in range(T0 + hour * HOUR, T0 + (hour + 1) * HOUR, WINDOW)]
        assert math.isclose(judged[0], float(np.mean(slot_means)), rel_tol=1e-6)


def test_the_profile_is_not_dragged_by_the_anomaly_it_should_find() -> None:
    rng = np.random.default_rng(3)
    profile = TimeOfDayProfile.new(window_ms=WINDOW)
    for t in range(T0, T0 + 7 * DAY, STEP):
        profile.observe(t, pressure(t, rng))
    t = T0 + 7 * DAY + 10 * HOUR
    before = profile.expected(t)
    assert before is not None
    for day in range(3):  # three days at +20 % in the 10:00 slot (winsorised at 3σ)
        for s in range(t + day * DAY, t + day * DAY + HOUR, STEP):
            profile.observe(s, 1.2 * pressure(s, rng))
        profile.observe(t + day * DAY + HOUR, pressure(t + HOUR, rng))
    after = profile.expected(t + 3 * DAY)
    assert after is not None
    moved = (after[0] - before[0]) / before[0]
    assert 0.0 < moved < 0.02  # unclipped, 18 of 36 window means at +20 % would move the slot by ~+10 %


def test_the_state_is_232_bytes_and_a_pressure_sensor_state_stays_under_one_kib() -> None:
    profile = TimeOfDayProfile.new(window_ms=WINDOW)
    assert PROFILE_BYTES == 232 and len(profile.to_bytes()) == 232
    station = Station([pressure_spec()])
    rng = np.random.default_rng(1)
    station.feed(T0, T0 + 4 * DAY, {"P": lambda t: pressure(t, rng)})
    assert len(pickle.dumps(station.states["P"])) <= 1024
