"""The ``bench_peers`` job in Quix Streams, as its documentation teaches (tumbling window + ``.agg`` + ``.final``).

Runs in its own virtual environment (Quix Streams pins an older confluent-kafka than the project), started
by ``bench_peers`` as ``python -m benchmarks._peers_quix BOOTSTRAP TOPIC WINDOWS STATE_DIR OUT.json``. It
stops after ``WINDOWS`` closed windows and writes them, with their flags and the seconds ``app.run``
took, to ``OUT.json``.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

from benchmarks._peers_job import WINDOW_MS, EwState, ew_flag, moments_to_stats


def main() -> None:
    """Build the Quix application, run it to the expected number of windows, dump the windows."""
    from quixstreams import Application  # type: ignore[import-not-found]  # only in the peers' venv
    from quixstreams.dataframe.windows import Count, Max, Min, Reduce  # type: ignore[import-not-found]

    bootstrap, topic_name, windows, state_dir, out = sys.argv[1:6]
    app = Application(
        broker_address=bootstrap, consumer_group=f"quix-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest",
        state_dir=state_dir, use_changelog_topics=False, loglevel="WARNING",
    )  # fmt: skip
    topic = app.topic(topic_name, value_deserializer="json", timestamp_extractor=lambda value, *_: value["ts"])
    sdf = app.dataframe(topic)
    moments = Reduce(
        reducer=lambda acc, row: [acc[0] + row["value"], acc[1] + row["value"] * row["value"]],
        initializer=lambda row: [row["value"], row["value"] * row["value"]],
    )
    sdf = (
        sdf.tumbling_window(WINDOW_MS).agg(count=Count(), low=Min("value"), high=Max("value"), moments=moments).final()
    )

    def flag(window: dict[str, Any], state: Any) -> dict[str, Any]:
        ew = EwState(*state.get("ew", (0, 0.0, 0.0)))
        mean, std = moments_to_stats(window["count"], window["moments"][0], window["moments"][1])
        window["flag"] = ew_flag(ew, mean)
        state.set("ew", (ew.windows, ew.mean, ew.var))
        return {"start": window["start"], "count": window["count"], "mean": mean, "min": window["low"],
                "max": window["high"], "std": std, "flag": window["flag"]}  # fmt: skip

    sdf = sdf.apply(flag, stateful=True)
    started = time.perf_counter()
    rows = app.run(count=int(windows), timeout=60.0, metadata=True)
    seconds = time.perf_counter() - started
    result = [[r["_key"].decode() if isinstance(r["_key"], bytes) else r["_key"], r["start"], r["count"], r["mean"],
               r["min"], r["max"], r["std"], r["flag"]] for r in rows]  # fmt: skip
    with open(out, "w") as file:
        json.dump({"seconds": seconds, "windows": result}, file)


if __name__ == "__main__":
    main()
