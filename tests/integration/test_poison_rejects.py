"""Poison rejects through the real sinks: every reject, whatever bytes its message held, is written to
the DLQ topic and the ``rejects`` table without raising, and ``QuestDB.exec`` reads every row back."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
from questdb import Sender

from lifeline.connectors.kafka import producer_config
from lifeline.connectors.questdb import QuestDB
from lifeline.flows.batch import RawBatch
from lifeline.flows.sinks import KafkaOut, KafkaSink, QuestDBBatch, QuestDBSink, reject_symbol
from lifeline.flows.validate import SensorIndex, ValidationLimits, validate_batch
from lifeline.models import Reject, RejectReason, SensorKind, SensorSpec
from lifeline.registry import Registry
from lifeline.settings import Settings
from tests.integration.flow_harness import isolated, read_topic

KAFKA_TS = 1_721_000_000_000
REGISTRY = Registry([SensorSpec("G", SensorKind.CH4_LEL, "W-1", "gas", "d1", 31.8, 117.2)])
EVERY_BYTE = bytes(range(256))
POISON = [
    b'{"sensor_id":"G","ts":1720000001000,"value":1,"note":"\x00\x01\x07\x1b[31m\n\r\t\x1f"}' + EVERY_BYTE,
    b'{"sensor_id":"\xff\xfe","ts":1720000001000,"value":1}',  # invalid UTF-8 inside a string
    b'{"sensor_id":"a\\u0000b\\nc\\u001f\\"d","ts":1720000001000,"value":1}',  # unknown id with NUL, newline
    b'{"sensor_id":"%s","ts":1720000001000,"value":1}' % (b"Z\x01" * 100_000),  # unknown id, 200 kB
    b'{"sensor_id":"G","ts":1720000001000,"value":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"sensor_id":"G","t0":1720000001000,"dt_ms":10,"values":[]}',
    EVERY_BYTE * 64,  # 16 kB of garbage: the reject keeps its first 4 kB
    b"\x00",
]


def _rejects() -> list[Reject]:
    """Rejects as validation makes them from the poison, plus an ``internal`` one with garbage everywhere."""
    index = SensorIndex(REGISTRY)
    _, rejects = validate_batch(
        RawBatch(2, POISON, list(range(len(POISON))), [KAFKA_TS] * len(POISON)), topic="poison.readings",
        index=index, last_ts=np.full(len(index), -1, dtype=np.int64), limits=ValidationLimits(),
    )  # fmt: skip
    garbage = EVERY_BYTE.decode("utf-8", "replace")
    internal = Reject(
        reason=RejectReason.INTERNAL, detail="KeyError: " + garbage, sensor_id="", topic="poison.readings",
        partition=2, offset=len(POISON), item=0, kafka_ts=KAFKA_TS, payload=garbage * 16,
    )  # fmt: skip
    return [*rejects, internal]


def test_every_poison_reject_reaches_both_sinks_and_reads_back(services: Settings, tmp_path: Path) -> None:
    settings = isolated(services, f"poison-{tmp_path.name[-8:].lower()}", tmp_path, partitions=1)
    rejects = _rejects()
    assert len(rejects) == len(POISON) + 1

    questdb = QuestDBSink(settings.questdb_ilp_conf, SensorIndex(REGISTRY), table_prefix=settings.questdb_table_prefix)
    rows = questdb.build_part("questdb", "questdb", None)
    # the sink's own rows in one request first: its writer would retry a refused request for ever
    with Sender.from_conf(settings.questdb_ilp_conf + "auto_flush=off;") as sender:
        rows._fill(sender, [QuestDBBatch(rejects=rejects)])
        sender.flush()
    rows.write_batch([QuestDBBatch(rejects=rejects)])  # then its public path (dedup keys: the same rows)
    rows.close()
    kafka = KafkaSink(producer_config(settings)).build_part("kafka", "kafka", None)
    kafka.write_batch([KafkaOut.reject(settings.dlq_topic, r) for r in rejects])
    kafka.close()

    dlq = [msgspec.json.decode(v, type=Reject) for v in read_topic(settings, settings.dlq_topic)]
    assert sorted(dlq, key=lambda r: r.offset) == rejects
    with QuestDB(settings) as db:
        db.wait_for_wal("rejects", timeout_s=60)
        stored = db.exec(
            f"SELECT kafka_offset, reason, sensor_id, detail, payload FROM {db.table('rejects')} ORDER BY kafka_offset"  # noqa: S608
        ).rows
    expected = [[r.offset, r.reason.value, reject_symbol(r.sensor_id), r.detail, r.payload] for r in rejects]
    assert stored == expected
