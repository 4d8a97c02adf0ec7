"""The per-sensor learned baseline: seasonal slots, gated learning, calibrated threshold, small state."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from lifeline.detectors.config import AnomalyRules, RulesConfig, rules_from_table
from lifeline.detectors.results import WindowStats
from lifeline.detectors.sensor_baseline import new_baseline, slot_of

HOUR_MS = 3_600_000
RULES = AnomalyRules(utc_offset_h=0.0)


def _window(hour: int, mean: float, window_s: int = 3600) -> WindowStats:
    start = hour * window_s * 1000
    return WindowStats("p1", start, window_s, 60, mean, mean, mean, 0.0, 0.0, mean)


def _daily(hour: int) -> float:
    """A daily pattern: 50 ± 5 with its peak at 06:00 UTC."""
    return 50.0 + 5.0 * math.sin(2 * math.pi * (hour % 24) / 24)


def _trained(days: int = 28, seed: int = 1) -> object:
    rng = np.random.default_rng(seed)
    model = new_baseline(config=RULES, window_s=3600)
    for h in range(24 * days):
        w = _window(h, _daily(h) + rng.normal(0.0, 0.2))
        model.score_window(w)
        model.learn_window(w)
    return model


def test_slot_of_by_hand() -> None:
    # 1970-01-05 was a Monday: 4 days after the epoch, 10:30 UTC → weekday slot 10
    assert slot_of(4 * 86_400_000 + 10 * HOUR_MS + 1_800_000, 0.0, 1) == 10
    # the same moment in China Standard Time is 18:30 → slot 18; Sunday 1970-01-04 → weekend slot 24 + 10
    assert slot_of(4 * 86_400_000 + 10 * HOUR_MS, 8.0, 1) == 18
    assert slot_of(3 * 86_400_000 + 10 * HOUR_MS, 0.0, 1) == 34


def test_learns_seasonal_pattern_then_flags_a_step_at_the_right_slot() -> None:
    model = _trained()
    start = 24 * 28  # a Thursday 00:00 UTC (day 28 after a Thursday)
    # a 2.5 drop during 03:00-06:00 is well inside the daily range (45..55): no level or range view sees it;
    # the slot view counts it once it has lasted slot_persist_windows = 3 windows, i.e. at 05:00
    flagged = []
    for h in range(24):
        w = _window(start + h, _daily(h) - (2.5 if 3 <= h < 6 else 0.0))
        verdict = model.score_window(w)  # type: ignore[attr-defined]
        assert verdict is not None
        if verdict.is_anomaly:
            flagged.append(h)
            assert verdict.slot == "weekday 05:00-06:00"
            assert verdict.z < -5.0
            assert verdict.expected_lo > verdict.observed
            assert verdict.expected_lo < _daily(5) < verdict.expected_hi
        model.learn_window(w)  # type: ignore[attr-defined]
    assert flagged == [5]


def test_a_sustained_step_is_not_absorbed_within_a_day() -> None:
    model = _trained()
    start = 24 * 28
    flagged = []
    for h in range(24):  # a lasting leak: every window 2.0 lower than its slot's usual level
        w = _window(start + h, _daily(h) - 2.0)
        verdict = model.score_window(w)  # type: ignore[attr-defined]
        flagged.append(verdict is not None and verdict.is_anomaly)
        model.learn_window(w)  # type: ignore[attr-defined]
    assert flagged[2:] == [True] * 22 and flagged[:2] == [False, False], flagged


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_change_that_stays_is_flagged_for_its_first_day_then_becomes_the_new_normal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = new_baseline(config=RULES, window_s=3600)
    days, change = 28, 24 * 28 + 5
    flagged = []
    for h in range(24 * (days + 14)):  # a level that moves up 3 at 05:00 on day 28 and stays there (a new normal)
        verdict = model.score_and_learn(_window(h, _daily(h) + (3.0 if h >= change else 0.0) + rng.normal(0.0, 0.2)))
        if h >= change:
            flagged.append(verdict is not None and verdict.is_anomaly)
    assert all(flagged[:24])  # a whole day of it is an anomaly, not yet the new normal
    last = max(i for i, f in enumerate(flagged) if f)
    assert last < 7 * 24, f"still flagged {last} h after the change"  # (before: for the 14 days and on)


def _flagged_per_day(pattern_amplitude: float, seed: int) -> float:
    """Windows flagged per day on a daily pattern plus white noise (σ = 1), after two weeks of learning."""
    # the calibration is of the raw score of each window: persistence (which only lowers the rate) is off
    rules = AnomalyRules(utc_offset_h=0.0, false_alarms_per_day=1.0, slot_persist_windows=1)
    rng = np.random.default_rng(seed)
    model = new_baseline(config=rules, window_s=600)
    n = 144 * 114
    values = 10.0 + pattern_amplitude * np.sin(2 * np.pi * np.arange(n) / 144) + rng.normal(0.0, 1.0, n)
    flagged = scored = 0
    for i, v in enumerate(values.tolist()):
        w = _window(i, v, window_s=600)
        verdict = model.score_window(w)
        model.learn_window(w)
        if verdict is not None and i >= 144 * 14:
            scored += 1
            flagged += verdict.is_anomaly
    return flagged / scored * 144


def test_calibration_gives_roughly_the_target_rate_on_noise_around_a_daily_pattern() -> None:
    # target 1 false alarm per sensor-day with 10-minute windows: p = 1 × 600 / 86400 = 1/144 per window,
    # so 100 scored days of white noise around the pattern should flag about 100 windows (1 per day).
    per_day = [_flagged_per_day(5.0, seed) for seed in (0, 1, 2)]
    assert 0.4 <= sum(per_day) / 3 <= 2.5, per_day


def test_pure_noise_stays_at_or_below_the_target_rate() -> None:
    # no daily pattern: the slot view is not trusted and the level and range views are conservative,
    # so the rate is at most the target (1 per day), not above it
    per_day = [_flagged_per_day(0.0, seed) for seed in (0, 1)]
    assert sum(per_day) / 2 <= 1.0, per_day


def test_no_score_while_warming_up_and_scoring_changes_nothing() -> None:
    model = new_baseline(config=RULES, window_s=3600)
    assert model.score_window(_window(0, 1.0)) is None
    for h in range(RULES.warmup_windows):
        model.learn_window(_window(h, 1.0 + 0.01 * (h % 3)))
    before = pickle.dumps(model)
    assert model.score_window(_window(500, 5.0)) is not None
    assert pickle.dumps(model) == before


def test_state_is_small_and_round_trips() -> None:
    model = _trained(days=8)
    default_rules = new_baseline(config=AnomalyRules(), window_s=600)
    for h in range(200):
        w = _window(h, _daily(h), window_s=600)
        default_rules.learn_window(w)
    assert len(pickle.dumps(default_rules)) <= 1536  # 1.5 KiB target per sensor with the product settings
    copy = pickle.loads(pickle.dumps(model))
    w = _window(24 * 8 + 3, 40.0)
    assert copy.score_window(w) == model.score_window(w)  # type: ignore[attr-defined]


def test_rules_table_overrides_the_anomaly_settings() -> None:
    config = rules_from_table({"anomaly": {"false_alarms_per_day_by_kind": {"water_pressure": 0.5}}}, "test")
    assert config.anomaly.false_alarms_per_day_by_kind == {"water_pressure": 0.5}
    assert RulesConfig().anomaly.false_alarms_per_day == 0.01
    # p = 0.5 × 600 / 86400 = 1/288 → -log10(p) / 10 = 0.2459
    assert round(new_baseline(config=config.anomaly, window_s=600, kind="water_pressure")._threshold, 4) == 0.2459


def test_a_snapshot_with_the_slot_table_as_float32_pairs_still_loads() -> None:
    model = _trained(days=8)
    state = model.__getstate__()  # type: ignore[attr-defined]
    rules, window_s, threshold, _centres, _counts, recent, scalars = state[:7]
    old = (rules, window_s, threshold, model.slots.tobytes(), recent, scalars)  # type: ignore[attr-defined]
    restored = pickle.loads(pickle.dumps(model))
    restored.__setstate__(old)
    assert restored.slots.dtype == np.float32
    assert restored.slots.tobytes() == model.slots.tobytes()  # type: ignore[attr-defined]
    # that layout had no spreads per slot: none learned yet, everything else as it was
    assert not restored.spreads.any()
    restored.spreads = model.spreads.copy()  # type: ignore[attr-defined]
    assert pickle.dumps(restored) == pickle.dumps(model)
    model.slots[3, 1] = 60_000  # type: ignore[attr-defined]  # the largest count a slot reaches
    assert pickle.loads(pickle.dumps(model)).slots.tobytes() == model.slots.tobytes()  # type: ignore[attr-defined]


def test_a_snapshot_from_before_the_slot_spreads_loads_and_learns_them() -> None:
    model = _trained(days=8)
    before_spreads = model.__getstate__()[:7]  # type: ignore[attr-defined]
    restored = pickle.loads(pickle.dumps(model))
    restored.__setstate__(before_spreads)
    assert restored.spreads.dtype == np.float32 and not restored.spreads.any()
    w = _window(24 * 8 + 3, _daily(3))
    assert restored.score_window(w) is not None
    restored.learn_window(w)
    assert restored.spreads[3] > 0.0


def _pump_hour_flags(slot_spread_days: float, seed: int) -> tuple[int, int]:
    """Six weeks of an hourly series whose 03:00–06:00 hours are +3 (15 noise sigmas) on a random half of the days
    (a pump that runs on some mornings), and whose 10:00–13:00 hours drop 1.5 (7.5 sigmas) on the last 3 days:
    windows flagged in the pump hours over days 15–38, and in the dropped hours over the last 3 days."""
    rng = np.random.default_rng(seed)
    model = new_baseline(config=AnomalyRules(utc_offset_h=0.0, slot_spread_days=slot_spread_days), window_s=3600)
    pump_hours = dropped = 0
    pump_on = False
    for h in range(24 * 42):
        day, hour = divmod(h, 24)
        pump_on = rng.random() < 0.5 if hour == 0 else pump_on
        x = _daily(h) + rng.normal(0.0, 0.2)
        x += 3.0 if pump_on and 3 <= hour < 6 else 0.0
        x -= 1.5 if 10 <= hour < 13 and day >= 39 else 0.0
        verdict = model.score_window(_window(h, x))
        model.learn_window(_window(h, x))
        flagged = verdict is not None and verdict.is_anomaly
        pump_hours += flagged and 3 <= hour < 6 and 15 <= day < 39
        dropped += flagged and 10 <= hour < 13 and day >= 39
    return pump_hours, dropped


def test_hours_that_vary_from_day_to_day_get_their_own_spread_and_calm_hours_still_flag_a_drop() -> None:
    # with one pooled spread for all hours (slot_spread_days = 0) the pump hours flag on many days although
    # they only do what they do every other day; with a spread per slot they flag at most now and then
    pooled = [_pump_hour_flags(0.0, seed) for seed in (1, 2, 3)]
    per_slot = [_pump_hour_flags(7.0, seed) for seed in (1, 2, 3)]
    assert all(pump >= 5 for pump, _ in pooled), pooled
    assert all(pump <= 2 for pump, _ in per_slot), per_slot
    # the calm hours keep their narrow band: a drop of 7.5 noise sigmas lasting 3 hours on 3 days is flagged
    assert all(drop >= 1 for _, drop in per_slot), per_slot


def _weekly(day: int, hour: int) -> float:
    """The daily pattern on weekdays, 3 lower on weekends (1970-01-01, day 0, was a Thursday)."""
    return _daily(hour) - (3.0 if (day + 3) % 7 >= 5 else 0.0)


def _trained_weekly(days: int, rules: AnomalyRules) -> object:
    rng = np.random.default_rng(3)
    model = new_baseline(config=rules, window_s=3600)
    for day in range(days):
        for hour in range(24):
            w = _window(24 * day + hour, _weekly(day, hour) + rng.normal(0.0, 0.2))
            model.score_window(w)
            model.learn_window(w)
    return model


def _flags_a_weekend_morning_on(model: object, day: int) -> list[str]:
    """Feed ``day`` with its first 7 hours at the weekend level; the slots of the windows flagged."""
    flagged = []
    for hour in range(24):
        mean = _weekly(2, hour) if hour < 7 else _weekly(day, hour)  # day 2 was a Saturday
        w = _window(24 * day + hour, mean)
        verdict = model.score_window(w)  # type: ignore[attr-defined]
        assert verdict is not None
        if verdict.is_anomaly:
            flagged.append(verdict.slot)
        model.learn_window(w)  # type: ignore[attr-defined]
    return flagged


def test_a_monday_morning_that_still_stands_as_on_the_weekend_is_no_anomaly() -> None:
    # days 0..38 trained (weekend slots hold 11 days); day 39 is a Monday, day 40 a Tuesday
    assert (39 + 3) % 7 == 0
    rules = AnomalyRules(utc_offset_h=0.0)
    assert _flags_a_weekend_morning_on(_trained_weekly(39, rules), 39) == []
    # the same morning on a Tuesday is an anomaly against the weekday slots
    tuesday = _trained_weekly(39, rules)
    assert _flags_a_weekend_morning_on(tuesday, 39) == []
    assert "weekday 02:00-03:00" in _flags_a_weekend_morning_on(tuesday, 40)
    # and so is the Monday with the transition days off
    off = AnomalyRules(utc_offset_h=0.0, transition_days=False)
    assert "weekday 02:00-03:00" in _flags_a_weekend_morning_on(_trained_weekly(39, off), 39)


def test_a_monday_morning_off_both_day_types_is_still_an_anomaly_and_reports_the_nearer_slot() -> None:
    model = _trained_weekly(39, AnomalyRules(utc_offset_h=0.0))
    verdicts = []
    for hour in range(6):
        w = _window(24 * 39 + hour, _weekly(39, hour) - 8.0)  # 8 below the weekday level, 5 below the weekend's
        verdicts.append(model.score_window(w))  # type: ignore[attr-defined]
        model.learn_window(w)  # type: ignore[attr-defined]
    flagged = [v for v in verdicts if v is not None and v.is_anomaly]
    assert flagged
    assert all(v.slot.startswith("weekend") and v.expected_lo > v.observed for v in flagged)


def test_the_warm_up_spans_a_day_of_windows_but_at_most_its_cap() -> None:
    from lifeline.detectors.sensor_baseline import warmup_windows

    rules = AnomalyRules(warmup_windows=100, warmup_hours=24.0, warmup_max_windows=750)
    assert warmup_windows(rules, 600) == 144  # a day of 10-min windows
    assert warmup_windows(rules, 60) == 750  # a day would be 1,440
    assert warmup_windows(AnomalyRules(warmup_windows=900, warmup_max_windows=750), 1) == 900  # the floor wins
    with pytest.raises(ValueError, match="warmup_max_windows"):
        AnomalyRules(warmup_max_windows=-1)


def _series_with_a_step(seed: int) -> list[WindowStats]:
    """Four weeks of the daily pattern, then a 3-unit step for 12 hours, then the pattern again."""
    rng = np.random.default_rng(seed)
    days = 28
    out = []
    for h in range(24 * (days + 2)):
        step = 3.0 if 24 * days + 5 <= h < 24 * days + 17 else 0.0
        out.append(_window(h, _daily(h) + step + rng.normal(0.0, 0.2)))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_assess_then_learn_assessed_is_score_then_learn(seed: int) -> None:
    windows = _series_with_a_step(seed)
    two_calls, one_pass = new_baseline(config=RULES, window_s=3600), new_baseline(config=RULES, window_s=3600)
    flagged = 0
    for w in windows:
        expected = two_calls.score_window(w)
        two_calls.learn_window(w)
        assessed = one_pass.assess(w)
        assert assessed is not None
        assert assessed.verdict == expected
        one_pass.learn_assessed(assessed)
        flagged += bool(expected is not None and expected.is_anomaly)
    assert flagged > 0  # the step was scored as an anomaly, so the comparison covered the gated learning too
    assert pickle.dumps(one_pass) == pickle.dumps(two_calls)


def test_a_window_that_is_not_finite_is_neither_assessed_nor_learned() -> None:
    model = new_baseline(config=RULES, window_s=3600)
    before = pickle.dumps(model)
    assert model.assess(_window(0, math.nan)) is None
    assert pickle.dumps(model) == before


def test_anomalous_only_gives_the_verdicts_of_anomalies_and_learns_the_same() -> None:
    windows = _series_with_a_step(3)
    every, lazy = new_baseline(config=RULES, window_s=3600), new_baseline(config=RULES, window_s=3600)
    anomalies = 0
    for w in windows:
        full = every.score_and_learn(w)
        only = lazy.score_and_learn(w, anomalous_only=True)
        if full is not None and full.is_anomaly:
            anomalies += 1
            assert only == full
        else:
            assert only is None
    assert anomalies > 0
    assert pickle.dumps(lazy) == pickle.dumps(every)


def test_day_long_windows_keep_a_spread_of_the_size_of_their_noise() -> None:
    # one window a day comes to the same slot each day; its spread is an EW over about a week of days. A weight
    # above 1 made it swing wider each day until float32 overflowed (a year of daily deflection means did that)
    rng = np.random.default_rng(3)
    model = new_baseline(config=RULES, window_s=86_400)
    for day in range(365):
        model.score_and_learn(_window(day, 10.0 + rng.normal(0.0, 1.0), window_s=86_400))
    learned = model.spreads[model.spreads > 0]
    assert learned.size > 0 and np.all(np.isfinite(learned))
    assert 0.3 <= float(np.median(learned)) <= 3.0, learned  # σ 1 of the noise, within a factor 3
