"""The capacity model's arithmetic against hand-computed cases (benchmarks/scale_model.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from benchmarks.scale_model import (
    DEFAULT_MIX,
    ModelInputs,
    SensorClass,
    batch_and_single_rates,
    group_stage_limit_partitions,
    main,
    messages_per_sensor_s,
    min_hosts,
    min_hosts_for_pause,
    plan,
    stored_readings_s,
    storm_inputs,
    storm_mix,
    touched_share,
)

#: 1,000 sensors each sending one reading every 10 s; round numbers so every figure is computed by hand.
SIMPLE = ModelInputs(
    sensors=1000,
    cores_per_host=4,
    mix=(SensorClass(name="water + drainage", share=1.0, interval_s=10),),
    batch_readings_per_core_s=1000.0,
    single_messages_per_core_s=50.0,
    state_bytes_per_sensor=1024.0,
    snapshot_s_per_sensor=1e-3,
    compaction_factor=1.0,
    epoch_interval_s=5.0,
    source_linger_s=0.05,
    partitions_per_core=2,
    findings_per_sensor_hour=3.6,
    stats_per_sensor_hour=36.0,
    alert_events_per_sensor_hour=0.36,
    group_s_per_finding=0.01,
    group_s_per_call=0.001,
    group_s_per_group_tick=0.0,
    active_group_share=1.0,
    downsample_s=1.0,
    target_utilisation=0.5,
)


def test_two_hosts_by_hand() -> None:
    result = plan(SIMPLE, 2)
    assert result.sensors_per_host == 500
    assert result.messages_per_host_s == pytest.approx(50.0)  # 500 sensors / 10 s
    assert result.readings_per_host_s == pytest.approx(50.0)
    assert result.partition_cores_per_host == pytest.approx(1.0)  # 50 msg/s at 50 msg/s per core
    assert result.snapshot_cores_per_host == pytest.approx(0.1)  # 500 x 1 ms every 5 s
    assert result.cores_needed_per_host == pytest.approx(1.1)
    assert result.headroom == pytest.approx(1 - 1.1 / 2)  # 4 cores x 50 %
    assert result.kafka_partitions == 16  # 2 hosts x 4 cores x 2
    assert result.state_mib_per_host == pytest.approx(500 * 1024 / 2**20)
    assert result.snapshot_s_per_worker == pytest.approx(0.125)  # 125 sensors per worker x 1 ms
    assert result.recovery_write_mib_s_per_host == pytest.approx(500 * 1024 / 2**20 / 5)
    assert result.findings_s == pytest.approx(1.0)  # 1,000 x 3.6 / 3,600
    assert result.group_calls_s == pytest.approx(320.0)  # 16 partitions x 20 batches/s
    assert result.group_core_share == pytest.approx(0.33)  # 1 x 10 ms + 320 x 1 ms
    assert result.questdb_rows_s == pytest.approx(10 + 0.1 + 100)  # stats + alert events + readings


def test_fan_in_to_the_group_stage_grows_with_partitions_not_with_hosts_alone() -> None:
    one, four = plan(SIMPLE, 1), plan(SIMPLE, 4)
    assert four.findings_s == one.findings_s
    assert four.group_calls_s == 4 * one.group_calls_s


def test_group_stage_limit_by_hand() -> None:
    # findings take 1/s x 10 ms = 1 % of the core; each partition adds 20 batches/s x 1 ms = 2 %
    assert group_stage_limit_partitions(SIMPLE) == pytest.approx(0.99 / 0.02)
    assert group_stage_limit_partitions(ModelInputs(group_s_per_call=0.0)) == math.inf


def test_min_hosts_rounds_up() -> None:
    # one host needs 2 x 1.1 = 2.2 cores; 4 cores at 50 % allow 2 → 2 hosts
    assert min_hosts(SIMPLE) == 2


def test_batches_are_costed_per_reading_and_stored_once_a_second() -> None:
    raw = (SensorClass(name="bridge raw 50 Hz", share=1.0, interval_s=1, readings_per_message=50),)
    inputs = ModelInputs(sensors=100, cores_per_host=8, mix=raw, batch_readings_per_core_s=1000.0,
                         snapshot_s_per_sensor=0.0)  # fmt: skip
    assert batch_and_single_rates(raw, 100) == (5000.0, 0.0)
    assert plan(inputs, 1).partition_cores_per_host == pytest.approx(5.0)  # 5,000 readings at 1,000 per core
    assert stored_readings_s(raw, 100, downsample_s=1.0) == pytest.approx(100.0)  # not 5,000


def test_default_mix_by_hand() -> None:
    assert sum(c.share for c in DEFAULT_MIX) == pytest.approx(1.0)
    # 0.5/900 + 0.35/300 + 0.135/600 + 0.015/1 messages per sensor-second
    assert messages_per_sensor_s(DEFAULT_MIX) == pytest.approx(0.5 / 900 + 0.35 / 300 + 0.135 / 600 + 0.015)
    batched, single = batch_and_single_rates(DEFAULT_MIX, 10_000_000)
    assert batched == pytest.approx(7_500_000)  # 150,000 raw channels x 50 readings/s
    assert single == pytest.approx(5_555.56 + 11_666.67 + 2_250, abs=0.1)


def test_storm_changes_only_water_and_drainage() -> None:
    storm = storm_mix(DEFAULT_MIX)
    changed = [(a.name, b.interval_s) for a, b in zip(DEFAULT_MIX, storm, strict=True) if a != b]
    assert changed == [("water + drainage", 60.0)]


def test_command_line_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--sensors", "1000000", "--hosts", "2", "4"])
    out = capsys.readouterr().out
    assert "| per host | 2 hosts | 4 hosts |" in out
    assert "| sensors per host | 500,000 | 250,000 |" in out


def test_min_hosts_for_the_snapshot_pause() -> None:
    # one host: 1,000 sensors / 4 workers x 1 ms = 0.25 s per worker; a 0.1 s pause needs 3 hosts
    assert min_hosts_for_pause(replace(SIMPLE, max_snapshot_pause_s=0.1)) == 3
    assert min_hosts_for_pause(replace(SIMPLE, max_snapshot_pause_s=0.25)) == 1


def test_the_per_minute_tick_visits_every_group() -> None:
    # 1,000 sensors x 0.1 groups each = 100 groups, 6 ms each once a minute = 0.01 of a core on top of 0.33
    ticking = replace(SIMPLE, groups_per_sensor=0.1, group_s_per_group_tick=6e-3, group_tick_interval_s=60.0)
    assert plan(ticking, 2).group_core_share == pytest.approx(0.33 + 0.01)
    # findings 1 % + ticks 1 % of the core; 2 % per partition
    assert group_stage_limit_partitions(ticking) == pytest.approx(0.98 / 0.02)


def test_storm_inputs_take_storm_day_rates() -> None:
    storm = storm_inputs(SIMPLE)
    assert storm.mix[0].interval_s == 60.0  # the one class is water + drainage
    # 1,000 sensors x storm-day's findings and notes (79,574 from 3,021 sensors in 24 h) per sensor-hour / 3,600 s
    assert plan(storm, 1).findings_s == pytest.approx(1000 * 79_574 / (3021 * 24) / 3600)


def test_only_the_sensors_touched_in_an_epoch_are_snapshotted_with_their_compaction() -> None:
    # a reading every 10 s and a 5-s epoch: every sensor may change each epoch (a reading, then a window close)
    assert touched_share(SIMPLE.mix, 5.0) == 1.0
    # every 100 s: at most 2 changes per 100 s, so 10 % of the sensors per 5-s epoch
    slow = replace(
        SIMPLE, mix=(SensorClass(name="water + drainage", share=1.0, interval_s=100),), compaction_factor=2.0
    )
    result = plan(slow, 2)
    assert result.snapshot_cores_per_host == pytest.approx(500 * 0.1 * 2 * 1e-3 / 5)  # 50 touched x 2 x 1 ms / 5 s
    assert result.snapshot_s_per_worker == pytest.approx(125 * 0.1 * 2 * 1e-3)
    # the default mix by hand: 0.5 x 10/900 + 0.35 x 10/300 + 0.135 x 10/600 + 0.015 x 1
    assert touched_share(DEFAULT_MIX, 5.0) == pytest.approx(0.5 * 10 / 900 + 0.35 * 10 / 300 + 0.135 * 10 / 600 + 0.015)


def test_the_tick_visits_only_the_groups_with_work() -> None:
    # 100 groups, a quarter of them with work, 6 ms each: 25 x 6 ms = 0.15 s a tick, 0.0025 of a core
    ticking = replace(SIMPLE, groups_per_sensor=0.1, group_s_per_group_tick=6e-3, active_group_share=0.25)
    result = plan(ticking, 2)
    assert result.group_tick_pass_s == pytest.approx(0.15)
    assert result.group_core_share == pytest.approx(0.33 + 0.0025)
