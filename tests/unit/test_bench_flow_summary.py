"""The latency summary over several runs of ``benchmarks.bench_flow`` (medians worked out by hand)."""

from benchmarks.bench_flow import describe_latency_runs


def test_the_summary_gives_the_median_of_the_runs_and_every_run() -> None:
    runs = [
        {"p50_ms": 200.0, "p99_ms": 600.0},
        {"p50_ms": 1200.0, "p99_ms": 2900.0},
        {"p50_ms": 260.0, "p99_ms": 700.0},
    ]
    assert describe_latency_runs(100.0, runs) == (
        "latency at 100 readings/s over 3 runs: median p50 260 ms, median p99 700 ms; "
        "per run (p50/p99): 200/600, 1200/2900, 260/700"
    )


def test_a_run_without_probe_alerts_is_left_out_and_none_at_all_is_said() -> None:
    runs = [{"probes": 0}, {"p50_ms": 300.0, "p99_ms": 900.0}, {"p50_ms": 100.0, "p99_ms": 500.0}]
    assert describe_latency_runs(16575.0, runs) == (
        "latency at 16,575 readings/s over 2 runs: median p50 200 ms, median p99 700 ms; "
        "per run (p50/p99): 300/900, 100/500"
    )
    none = describe_latency_runs(10.0, [{"probes": 0}])
    assert none == "latency at 10 readings/s over 1 run: no probe alert arrived"
