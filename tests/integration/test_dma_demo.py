"""The DMA leak detector on real Kafka and QuestDB: ``lifeline demo --scenario water-net1`` replays 30 days of
EPANET-simulated Net1 readings through the live flow, and the DMA's bursts come back as ``pipe_burst`` alerts of
the DMA that name the likely leak nodes, in Kafka (what the demo scores) and in QuestDB's ``alert_events``."""

from __future__ import annotations

import io

from rich.console import Console

from lifeline.connectors.questdb import QuestDB
from lifeline.flows.demo import run_demo
from lifeline.settings import Settings


def test_the_water_net1_demo_raises_located_dma_burst_alerts(services: Settings) -> None:
    output = io.StringIO()
    result = run_demo(services, Console(file=output, width=200), scenario_name="water-net1", serve=False)
    text = output.getvalue()
    assert result.readings == 8 * 30 * 288 and result.incidents >= 5  # 8 sensors send, the derived meter none
    assert result.incidents_found >= 1, text[-4000:]
    with QuestDB(services) as db:
        db.wait_for_wal("alert_events", timeout_s=60)
        table = db.table("alert_events")
        rows = db.query(
            f"SELECT asset_id, location, evidence FROM {table} WHERE event = 'opened' AND kind = 'pipe_burst'"  # noqa: S608
        ).rows
    dma = [r for r in rows if r[0] == "WN-NET1" and "water.dma.burst" in str(r[2])]
    assert dma, f"no DMA burst alert in QuestDB: {rows[:5]}"
    assert all(str(r[1]).startswith("nodes: ") for r in dma), "each names the likely leak nodes"
