"""``lifeline demo``: the whole product on real servers, start to finish.

1. start Kafka and QuestDB (fetched with ``mvn`` on first use) and create the schema;
2. simulate a city (``--scenario``, default ``smoke``) whose last reading is "now", with ground truth;
3. send it to Kafka, run the detection dataflow over it, and score the alerts against the ground truth;
4. with ``--serve`` (the default), start the API and the notifier (with a local webhook receiver that
   prints what it is sent) and keep them up until Ctrl-C.

Each run uses its own topics (``lifeline.demo.<run>.*``), so runs never mix; rows go to the normal tables.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.kafka import read_to_end
from lifeline.connectors.services import manager
from lifeline.connectors.services.process import port_open
from lifeline.flows.exceptions import FlowError
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Reject
from lifeline.settings import Settings

__all__ = ["DemoResult", "run_demo", "score_alerts", "stop_children", "stop_signals_interrupt"]


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured: counts of alerts and the match against ground truth."""

    readings: int
    alert_events: int
    rejects: int
    incidents: int
    incidents_found: int
    tier_correct: int
    faults: int
    faults_high_tier: int
    bad_messages: int
    bad_in_dlq: int
    #: injected sensor faults that raised a ``sensor_fault`` alert on their sensor
    faults_flagged: int = 0
    #: per injected fault: (ground-truth id, fault type, detection delay in s or ``None`` when not flagged)
    fault_delays: tuple[tuple[str, str, float | None], ...] = ()


def score_alerts(ground_truth: list[Any], alerts: list[AlertEvent], dlq: list[Reject]) -> tuple[Table, DemoResult]:
    """Compare alerts with the ground truth rows of a scenario; a table for people and the counts."""
    raised = [a for a in alerts if a.event in (AlertEventType.OPENED, AlertEventType.ESCALATED)]
    table = Table(title="alerts vs ground truth", show_lines=False)
    for col in ("id", "label", "kind", "expected", "got", "asset / group", "verdict"):
        table.add_column(col)
    incidents = found = correct = faults = faults_high = bad = bad_ok = flagged = 0
    delays: list[tuple[str, str, float | None]] = []
    dlq_keys = {(r.payload, r.reason.value) for r in dlq}
    for row in ground_truth:
        related = [
            a for a in raised
            if (a.asset_id in (row.asset_id, row.group_id) or set(a.sensor_ids) & set(row.sensor_ids))
            and row.start_ms - 60_000 <= a.ts <= row.end_ms + 3_600_000
        ]  # fmt: skip
        if row.label == "incident":
            incidents += 1
            same_kind = [a for a in related if a.kind.value == row.kind]
            best = min((int(a.tier) for a in same_kind), default=None)
            found += best is not None
            correct += best is not None and str(best) == row.expected_tier
            verdict = "missed" if best is None else ("ok" if str(best) == row.expected_tier else "tier differs")
            got = "-" if best is None else f"T{best}"
        elif row.label == "fault":
            faults += 1
            on_sensor = [
                a for a in related if a.kind is AlertKind.SENSOR_FAULT and set(a.sensor_ids) & set(row.sensor_ids)
            ]
            faults_high += any(int(a.tier) < 3 for a in related if set(a.sensor_ids) <= set(row.sensor_ids))
            delay_s = (min(a.ts for a in on_sensor) - row.start_ms) / 1000 if on_sensor else None
            flagged += delay_s is not None
            delays.append((row.id, row.detail.split(":")[0], delay_s))
            got = (
                "-" if delay_s is None else f"fault T{min(int(a.tier) for a in on_sensor)} after {delay_s / 60:.0f} min"
            )
            verdict = "flagged" if on_sensor else "not flagged"
        elif row.label == "lookalike":
            top = min((int(a.tier) for a in related), default=None)
            got = "-" if top is None else f"T{top}"
            verdict = "ok" if top is None or top == 3 else "FALSE ALARM"
        else:  # bad_message
            bad += 1
            hit = any(reason == row.dlq_reason and row.sensor_ids[0] in payload for payload, reason in dlq_keys) if (
                row.sensor_ids) else any(reason == row.dlq_reason for _, reason in dlq_keys)  # fmt: skip
            bad_ok += hit
            got = row.dlq_reason if hit else "-"
            verdict = "in DLQ" if hit else "MISSING"
        expected = row.expected_tier if row.expected_tier not in ("1", "2", "3") else f"T{row.expected_tier}"
        colour = "green" if verdict in ("ok", "in DLQ", "flagged") else "yellow" if verdict != "FALSE ALARM" else "red"
        table.add_row(row.id, row.label, row.kind or row.detail[:24], expected, got,
                      row.group_id or row.asset_id, f"[{colour}]{verdict}[/]")  # fmt: skip
    result = DemoResult(
        0, len(alerts), len(dlq), incidents, found, correct, faults, faults_high, bad, bad_ok, flagged, tuple(delays)
    )
    return table, result


class _Receiver(BaseHTTPRequestHandler):
    """A local webhook endpoint standing in for a utility's duty system."""

    received: ClassVar[list[dict[str, Any]]] = []
    console: ClassVar[Console | None] = None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"raw": body.decode("utf-8", "replace")}
        self.received.append(payload)
        if self.console is not None:
            self.console.print(f"[magenta]webhook[/] {json.dumps(payload, ensure_ascii=False)[:200]}")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


@contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM interrupts like Ctrl-C (``KeyboardInterrupt``), so the ``finally`` clauses
    that stop child processes run; a repeated SIGTERM or SIGINT does not interrupt that clean-up."""
    from lifeline.flows.cluster import forwarded_stop_signals

    interrupted = False

    def interrupt(_signum: int) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt

    with forwarded_stop_signals(interrupt):
        yield


def stop_children(children: Sequence[subprocess.Popen[bytes]], grace_s: float = 10.0) -> None:
    """SIGTERM every child still running, wait up to ``grace_s`` for all of them, SIGKILL and reap the rest."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _free_port(start: int) -> int:
    port = start
    while port_open("127.0.0.1", port):
        port += 1
    return port


@contextmanager
def _spinner(console: Console, text: str) -> Iterator[None]:
    with console.status(text):
        yield


def run_demo(settings: Settings, console: Console, *, scenario_name: str = "smoke", seed: int = 7,
             serve: bool = True, api_port: int = 8080) -> DemoResult:  # fmt: skip
    """Run the demo end to end and print a summary; returns the figures (used by tests). SIGTERM stops it
    like Ctrl-C: the dataflow, API and notifier it started are stopped and waited for, never orphaned."""
    with stop_signals_interrupt():
        return _run_demo(settings, console, scenario_name=scenario_name, seed=seed, serve=serve, api_port=api_port)


def _run_demo(settings: Settings, console: Console, *, scenario_name: str, seed: int, serve: bool,
              api_port: int) -> DemoResult:  # fmt: skip
    from lifeline.codec import decode_alert_event
    from lifeline.simulators.output import produce_scenario
    from lifeline.simulators.scenarios import build, scenario_definition

    started = time.monotonic()
    console.rule("[bold]1. servers and schema")
    manager.up(settings, report=lambda line: console.print(f"[dim]•[/] {line}"))
    run_id = time.strftime("%Y%m%d%H%M%S")
    demo = settings.with_overrides(
        readings_topic=f"lifeline.demo.{run_id}.readings", alerts_topic=f"lifeline.demo.{run_id}.alerts",
        dlq_topic=f"lifeline.demo.{run_id}.dlq", recovery_dir=settings.state_dir / "demo" / run_id / "recovery",
        metrics_port=0,
    )  # fmt: skip
    apply_schema(demo)
    console.print(f"topics: {demo.readings_topic}, {demo.alerts_topic}, {demo.dlq_topic}")

    console.rule(f"[bold]2. simulate: {scenario_name}")
    definition = scenario_definition(scenario_name)
    duration_s = definition.duration_s
    now_ms = int(time.time() * 1000) // 60_000 * 60_000
    scenario = build(scenario_name, seed=seed, start=now_ms - round(duration_s * 1000))
    folder = settings.state_dir / "demo" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    registry_file = folder / "registry.csv"
    scenario.write_registry(registry_file)
    console.print(f"{len(scenario.registry):,} sensors; {definition.injects}")
    console.print(f"registry: {registry_file}")

    console.rule("[bold]3. readings → Kafka")
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TimeElapsedColumn(), console=console) as progress:  # fmt: skip
        task = progress.add_task("producing", total=scenario.estimated_readings())
        report = produce_scenario(scenario, demo, progress=lambda n: progress.advance(task, n))
    console.print(f"sent {report.readings:,} readings in {report.messages:,} messages "
                  f"({report.bad_messages} deliberately bad) at {report.readings_per_s:,.0f} readings/s")  # fmt: skip

    console.rule("[bold]4. the dataflow")
    flow_started = time.monotonic()
    with _spinner(console, "running the dataflow over the topic (validation → detectors → QuestDB + alerts)"):
        flow = subprocess.Popen(
            [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry_file), "--stop-at-end"],
            env=demo.environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            code = flow.wait()
        finally:
            stop_children([flow])
    if code != 0:
        raise FlowError(f"the dataflow exited with code {code}; run `lifeline run` by hand to see why")
    console.print(f"processed in {time.monotonic() - flow_started:.1f} s")

    alerts = [decode_alert_event(v) for v in read_to_end(demo, demo.alerts_topic)]
    dlq = [msgspec.json.decode(v, type=Reject) for v in read_to_end(demo, demo.dlq_topic)]

    console.rule("[bold]5. what was detected")
    table, result = score_alerts(scenario.ground_truth, alerts, dlq)
    result = dataclasses.replace(result, readings=report.readings)
    console.print(table)
    by_tier: dict[str, int] = {}
    for a in alerts:
        if a.event is AlertEventType.OPENED:
            key = f"T{int(a.tier)} {a.kind.value}"
            by_tier[key] = by_tier.get(key, 0) + 1
    console.print("alerts opened: " + (", ".join(f"{k} ×{n}" for k, n in sorted(by_tier.items())) or "none"))
    console.print(
        f"incidents found {result.incidents_found}/{result.incidents} (tier right {result.tier_correct}); "
        f"sensor faults flagged {result.faults_flagged}/{result.faults} (as tier 3 for the maintainer; "
        f"raised as tier 1/2: {result.faults_high_tier}); bad messages in the DLQ {result.bad_in_dlq}/"
        f"{result.bad_messages}; {len(alerts)} alert events, {len(dlq)} DLQ messages"
    )
    console.print(f"QuestDB console: {settings.questdb_http_url}  (try the alert_events and sensor_stats tables)")
    console.print(f"demo done in {time.monotonic() - started:.1f} s")
    if serve:
        _serve(settings, demo, registry_file, folder, console, api_port)
    return result


def _serve(settings: Settings, demo: Settings, registry: Path, folder: Path, console: Console, port: int) -> None:
    """Run the API and the notifier against the demo's alerts until Ctrl-C."""
    from lifeline.api.auth import new_api_key

    console.rule("[bold]6. API and notifier (Ctrl-C to stop)")
    key, digest = new_api_key()
    tokens = folder / "tokens.toml"
    tokens.write_text(f'[[token]]\nname = "demo-operator"\nrole = "operator"\nsha256 = "{digest}"\n', encoding="utf-8")
    hook_port = _free_port(8765)
    _Receiver.console = console
    receiver = ThreadingHTTPServer(("127.0.0.1", hook_port), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    secret = secrets.token_hex(16)
    rules = folder / "notify_routes.toml"
    rules.write_text(
        "digest_interval_s = 60\nescalate_after_s = 300\n\n"
        f'[contacts.duty-hook]\nwebhook = "http://127.0.0.1:{hook_port}/hook"\nsecret = "{secret}"\n\n'
        '[[route]]\nowner = "*"\ntiers = [1, 2]\nlevels = [["duty-hook"]]\n\n'
        '[[route]]\nowner = "*"\ntiers = [3]\nlevels = [["duty-hook"]]\n',
        encoding="utf-8",
    )
    port = _free_port(port)
    env = demo.environment() | {
        "LIFELINE_API_TOKENS_PATH": str(tokens),
        "LIFELINE_REGISTRY_PATH": str(registry),
        "LIFELINE_API_PORT": str(port),
    }
    api = subprocess.Popen([sys.executable, "-m", "lifeline.cli", "api", "--log-level", "warning"], env=env)
    notifier = subprocess.Popen([sys.executable, "-m", "lifeline.cli", "notify", "--routes", str(rules)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    console.print(f"API docs:        http://127.0.0.1:{port}/docs")
    console.print(f"operator console: http://127.0.0.1:{port}/console/#token={key}  (login in the URL fragment)")
    console.print(f"operator token:  {key}")
    console.print(f'active alerts:   curl -H "Authorization: Bearer {key}" http://127.0.0.1:{port}/alerts/active')
    console.print(f"live feed:       ws://127.0.0.1:{port}/ws/alerts?token={key}&max_tier=2")
    console.print(f"webhook receiver (prints notifications below): http://127.0.0.1:{hook_port}/hook")
    console.print(
        f'alert → first notice: curl -H "Authorization: Bearer {key}" http://127.0.0.1:{port}/notifications/latency'
    )
    try:
        while api.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("stopping API and notifier")
    finally:
        stop_children([api, notifier])
        receiver.shutdown()
    console.print("servers are still running; stop them with `lifeline services down`")
