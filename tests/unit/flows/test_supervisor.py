"""The cluster supervisor's decisions, with fake exit codes and a manual clock (no processes)."""

from __future__ import annotations

import signal

from lifeline.flows.supervisor import Action, SupervisePolicy, Supervisor, exit_reason

RUNNING = None


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def now_s(self) -> float:
        return self.now


def _started(policy: SupervisePolicy, clock: FakeClock, processes: int = 2) -> Supervisor:
    supervisor = Supervisor(processes=processes, policy=policy, clock=clock)
    assert supervisor.decide([]).action is Action.START
    assert supervisor.decide([RUNNING] * processes).action is Action.WAIT
    return supervisor


def test_a_finite_run_ends_with_0_once_every_process_ended_with_0() -> None:
    supervisor = _started(SupervisePolicy(), FakeClock())
    assert supervisor.decide([0, RUNNING]).action is Action.WAIT  # the other one is still finishing
    final = supervisor.decide([0, 0])
    assert (final.action, final.exit_code) == (Action.EXIT, 0)
    assert supervisor.restarts_total == 0


def test_a_killed_process_stops_the_others_then_the_cluster_restarts_after_the_back_off() -> None:
    clock = FakeClock()
    supervisor = _started(SupervisePolicy(backoff_s=2.0), clock)
    stop = supervisor.decide([RUNNING, -signal.SIGKILL])
    assert (stop.action, stop.signal) == (Action.TERMINATE, signal.SIGTERM)
    assert "cluster process 1" in stop.reason and "SIGKILL" in stop.reason
    assert supervisor.decide([RUNNING, -signal.SIGKILL]).action is Action.WAIT  # waiting for process 0
    back_off = supervisor.decide([101, -signal.SIGKILL])  # the survivor panicked and exited
    assert back_off.action is Action.BACK_OFF
    assert back_off.reason == (
        "cluster process 1 ended: killed by SIGKILL (all processes: 0: exit code 101, 1: killed by SIGKILL); "
        "restarting the cluster from the last snapshot in 2 s (restart 1 of 3)"
    )
    clock.now += 1.9
    assert supervisor.decide([101, -signal.SIGKILL]).action is Action.WAIT
    clock.now += 0.1
    assert supervisor.decide([101, -signal.SIGKILL]).action is Action.START
    assert supervisor.decide([RUNNING, RUNNING]).action is Action.WAIT  # the new cluster runs
    assert supervisor.decide([0, 0]).exit_code == 0
    assert supervisor.restarts_total == 1


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    clock = FakeClock()
    supervisor = _started(SupervisePolicy(grace_s=10.0), clock)
    assert supervisor.decide([3, RUNNING]).action is Action.TERMINATE
    clock.now += 9.9
    assert supervisor.decide([3, RUNNING]).action is Action.WAIT
    clock.now += 0.1
    assert supervisor.decide([3, RUNNING]).action is Action.KILL
    clock.now += 1.0
    assert supervisor.decide([3, RUNNING]).action is Action.WAIT  # SIGKILL is sent once
    assert supervisor.decide([3, -signal.SIGKILL]).action is Action.BACK_OFF


def test_back_off_doubles_per_restart_and_gives_up_after_the_last_retry() -> None:
    clock = FakeClock()
    supervisor = _started(SupervisePolicy(retries=3, backoff_s=1.0), clock)
    waits = []
    for _ in range(3):
        assert supervisor.decide([1, 1]).action is Action.TERMINATE
        back_off = supervisor.decide([1, 1])
        assert back_off.action is Action.BACK_OFF
        waits.append(back_off.reason.split(" in ")[1].split(" s ")[0])
        clock.now += 10.0
        assert supervisor.decide([1, 1]).action is Action.START
        clock.now += 1.0
    assert waits == ["1", "2", "4"]
    assert supervisor.decide([1, 1]).action is Action.TERMINATE
    final = supervisor.decide([1, 1])
    assert (final.action, final.exit_code) == (Action.EXIT, 2)
    assert "exit code 1" in final.reason and "giving up after 3 restart(s)" in final.reason
    assert supervisor.decide([1, 1]) == final  # final stays final


def test_back_off_is_capped() -> None:
    policy = SupervisePolicy(backoff_s=1.0, backoff_max_s=60.0)
    assert [policy.backoff(n) for n in (1, 2, 6, 7, 20)] == [1.0, 2.0, 32.0, 60.0, 60.0]


def test_a_cluster_that_ran_stable_gets_its_retry_budget_back() -> None:
    clock = FakeClock()
    supervisor = _started(SupervisePolicy(retries=1, backoff_s=1.0, stable_s=600.0), clock)
    for _ in range(3):  # three failures, each after a long healthy run: never out of retries
        clock.now += 601.0
        assert supervisor.decide([-signal.SIGKILL, RUNNING]).action is Action.TERMINATE
        back_off = supervisor.decide([-signal.SIGKILL, 1])
        assert back_off.action is Action.BACK_OFF and "in 1 s" in back_off.reason
        clock.now += 1.0
        assert supervisor.decide([-signal.SIGKILL, 1]).action is Action.START
    assert supervisor.restarts_total == 3


def test_without_recovery_a_failure_stops_the_cluster_without_restart() -> None:
    supervisor = _started(SupervisePolicy(restarts_allowed=False), FakeClock())
    assert supervisor.decide([RUNNING, 1]).action is Action.TERMINATE
    final = supervisor.decide([-signal.SIGTERM, 1])
    assert (final.action, final.exit_code) == (Action.EXIT, 2)
    assert "recovery is off" in final.reason
    assert supervisor.restarts_total == 0


def test_a_stop_request_is_forwarded_and_waited_for_without_restart() -> None:
    clock = FakeClock()
    supervisor = _started(SupervisePolicy(grace_s=5.0), clock)
    supervisor.request_stop(signal.SIGINT)
    forward = supervisor.decide([RUNNING, RUNNING])
    assert (forward.action, forward.signal) == (Action.TERMINATE, signal.SIGINT)
    assert supervisor.decide([-signal.SIGINT, RUNNING]).action is Action.WAIT  # no restart, just waiting
    clock.now += 5.0
    assert supervisor.decide([-signal.SIGINT, RUNNING]).action is Action.KILL
    final = supervisor.decide([-signal.SIGINT, -signal.SIGKILL])
    assert (final.action, final.exit_code) == (Action.EXIT, 128 + signal.SIGINT)


def test_a_stop_request_during_the_back_off_exits_without_restart() -> None:
    clock = FakeClock()
    supervisor = _started(SupervisePolicy(backoff_s=30.0), clock)
    supervisor.decide([RUNNING, 1])
    assert supervisor.decide([1, 1]).action is Action.BACK_OFF
    supervisor.request_stop(signal.SIGTERM)
    clock.now += 60.0
    final = supervisor.decide([1, 1])
    assert (final.action, final.exit_code) == (Action.EXIT, 128 + signal.SIGTERM)


def test_exit_reasons_name_the_signal() -> None:
    assert exit_reason(-signal.SIGKILL) == "killed by SIGKILL"
    assert exit_reason(2) == "exit code 2"
    assert exit_reason(-200) == "killed by signal 200"


def test_the_run_is_done_only_when_every_one_of_the_n_processes_ended_with_0() -> None:
    supervisor = _started(SupervisePolicy(), FakeClock(), processes=3)
    assert supervisor.decide([0, 0]).action is Action.WAIT  # the third one is not accounted for
    assert supervisor.decide([0, 0, 0]).exit_code == 0
