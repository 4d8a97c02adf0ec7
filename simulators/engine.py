"""The generation engine: sensor blocks evaluated window by window, effects applied, chunks in time order.

A :class:`Block` is a set of sensors that share a sampling interval and a vectorised value function
``values(rows, ts_ms, rng) -> values`` over a 2-D array of sample times (rows × samples). The engine
cuts the scenario into windows of event time, evaluates every block for a window (whole arrays, no
per-reading Python), applies the injected :class:`Effect` objects (incidents, look-alikes, faults) to
the rows they touch, drops dropped-out samples (NaN) and returns one :class:`ReadingChunk` per window
sorted by event time. Noise comes from a generator seeded by ``(seed, block, window)``, so the same seed
gives the same numbers whatever the consumer does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BatchBlock",
    "Block",
    "Effect",
    "Engine",
    "Floats",
    "Ints",
    "ReadingChunk",
    "Rows",
    "ValuesFn",
]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Rows = NDArray[np.intp]


class ValuesFn(Protocol):
    """Normal behaviour of a block: values for ``rows`` at sample times ``ts_ms`` (rows × samples).

    ``rng`` is ``None`` for a noise-free evaluation (used to compute ground truth).
    """

    def __call__(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats: ...


@dataclass(frozen=True, eq=False)
class Block:
    """Sensors sampled on a common interval; sample ``k`` of row ``i`` is at ``start + offset_i + k·interval``.

    ``high_rate`` blocks have one common phase and are emitted as batch messages of ``batch_ms``.
    """

    name: str
    sensors: Ints
    interval_ms: int
    offsets_ms: Ints
    values: ValuesFn
    decimals: int = 3
    high_rate: bool = False
    batch_ms: int = 10_000
    #: Instrument range per row: values are clipped into it (a device cannot report beyond its range).
    low: Floats | None = None
    high: Floats | None = None


class Effect:
    """Something injected into one sensor's signal between ``start_ms`` and ``end_ms``.

    Subclasses change ``values`` in place where ``ts`` falls in their span. ``rng`` is ``None`` in a
    noise-free evaluation; effects with random fluctuation must then apply their deterministic part.
    """

    sensor: int
    start_ms: int
    end_ms: int
    #: True for sensor faults: noise-free evaluations for ground truth leave them out.
    is_fault: bool = False

    def __init__(self, sensor: int, start_ms: int, end_ms: int) -> None:
        self.sensor = sensor
        self.start_ms = start_ms
        self.end_ms = end_ms

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Change ``values`` (one sensor's samples at times ``ts_ms``) in place."""
        raise NotImplementedError

    def prepare(self, engine: Engine) -> None:
        """Resolve values that depend on the normal signal (called once the engine exists)."""

    def span(self, ts_ms: Ints) -> NDArray[np.bool_]:
        """Mask of the samples inside ``[start_ms, end_ms)``."""
        mask: NDArray[np.bool_] = (ts_ms >= self.start_ms) & (ts_ms < self.end_ms)
        return mask


@dataclass(frozen=True, eq=False)
class BatchBlock:
    """Evenly spaced high-rate samples of one sensor: sample ``i`` at ``t0_ms + i·dt_ms``."""

    sensor: int
    t0_ms: int
    dt_ms: int
    values: Floats


@dataclass(frozen=True, eq=False)
class ReadingChunk:
    """The readings of one window of event time, sorted by ``ts_ms`` (ties in registry order).

    ``sensor_index`` indexes the scenario's sensor list; ``batches`` hold high-rate channels.
    """

    window_start_ms: int
    window_end_ms: int
    sensor_index: NDArray[np.int32]
    ts_ms: Ints
    value: Floats
    batches: list[BatchBlock] = field(default_factory=list)

    @property
    def reading_count(self) -> int:
        """Single readings plus samples inside batches."""
        return int(self.ts_ms.size) + sum(int(b.values.size) for b in self.batches)


@dataclass(frozen=True)
class _Slot:
    block: int
    row: int


#: the random streams of a window's noise and of its effects (a window before the start uses the next number)
_NOISE_STREAM, _EFFECT_STREAM = 7919, 104729


class Engine:
    """Evaluates blocks window by window and applies effects; see the module docstring."""

    def __init__(
        self, blocks: Sequence[Block], effects: Sequence[Effect], start_ms: int, end_ms: int, seed: int,
        chunk_ms: int | None = None,
    ) -> None:  # fmt: skip
        self.blocks = list(blocks)
        self.effects = list(effects)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.seed = seed
        self.window_ms = self._window_length()
        #: high-rate channels are generated and emitted per sub-window of this length (memory stays small
        #: when raw channels dominate the volume); single readings are cut into the same sub-windows
        self.chunk_ms = self.window_ms if chunk_ms is None else int(chunk_ms)
        if self.window_ms % self.chunk_ms or any(
            self.chunk_ms % (b.batch_ms if b.high_rate else 1) for b in self.blocks
        ):  # fmt: skip
            raise ValueError("chunk_ms must divide the window and be a multiple of every batch length")
        self._slots: dict[int, _Slot] = {}
        for b, block in enumerate(self.blocks):
            for row, sensor in enumerate(block.sensors.tolist()):
                self._slots[sensor] = _Slot(b, row)
        self._by_block: dict[int, list[tuple[int, int, Effect]]] = {}
        for number, effect in enumerate(self.effects):
            slot = self._slots[effect.sensor]
            self._by_block.setdefault(slot.block, []).append((number, slot.row, effect))
        for effect in self.effects:
            effect.prepare(self)

    def _window_length(self) -> int:
        window = 3_600_000
        for block in self.blocks:
            step = block.batch_ms if block.high_rate else block.interval_ms
            window = int(np.lcm(window, step))
        if window > 86_400_000:
            raise ValueError("sampling intervals must divide one day; use intervals like 60, 300, 600, 900 s")
        return window

    @property
    def window_count(self) -> int:
        """Number of windows covering the scenario."""
        return -(-(self.end_ms - self.start_ms) // self.window_ms)

    @property
    def chunk_count(self) -> int:
        """Number of chunks :meth:`chunks` yields (sub-windows that start before the end)."""
        return -(-(self.end_ms - self.start_ms) // self.chunk_ms)

    def sample_times(self, sensor: int) -> Ints:
        """Every sample time of one sensor inside the scenario."""
        slot = self._slots[sensor]
        block = self.blocks[slot.block]
        first = self.start_ms + int(block.offsets_ms[slot.row])
        return np.arange(first, self.end_ms, block.interval_ms, dtype=np.int64)

    def interval_ms(self, sensor: int) -> int:
        """Sampling interval of one sensor."""
        return self.blocks[self._slots[sensor].block].interval_ms

    def evaluate(
        self, sensor: int, ts_ms: Ints, effects_before: Effect | None = None, include_faults: bool = False
    ) -> Floats:
        """Noise-free values of one sensor at ``ts_ms`` with its effects (faults only if ``include_faults``).

        With ``effects_before`` set, only the effects registered before that one are applied.
        """
        slot = self._slots[sensor]
        block = self.blocks[slot.block]
        values: Floats = block.values(np.array([slot.row], dtype=np.intp), ts_ms[None, :], None)[0].copy()
        for _number, _row, effect in self._by_block.get(slot.block, []):
            if effect is effects_before:
                break
            if effect.sensor == sensor and (include_faults or not effect.is_fault):
                effect.apply(ts_ms, values, None)
        return values

    def estimated_readings(self) -> int:
        """How many readings the scenario will produce before dropouts."""
        total = 0
        span = self.end_ms - self.start_ms
        for block in self.blocks:
            per_sensor = np.ceil((span - block.offsets_ms) / block.interval_ms).clip(min=0)
            total += int(per_sensor.sum())
        return total

    def chunks(self) -> Iterator[ReadingChunk]:
        """Every window's readings, in event-time order (per sub-window when ``chunk_ms`` is shorter)."""
        return self._windows(range(self.window_count))

    def history(self, hours: float) -> Iterator[ReadingChunk]:
        """The readings of the whole windows covering ``hours`` before the scenario's start, oldest first: the
        same sensors and effects (a condition that began before the start shows in them; the incidents and
        faults injected within the scenario do not), with noise of its own, so the scenario's readings are the
        same with or without a history. For a detector's warm-up, not part of the scenario."""
        windows = -(-round(hours * 3_600_000) // self.window_ms)
        return self._windows(range(-windows, 0))

    def _windows(self, windows: range) -> Iterator[ReadingChunk]:
        for window in windows:
            if self.chunk_ms == self.window_ms:
                yield self.chunk(window)
            else:
                yield from self._sub_chunks(window)

    def _key(self, stream: int, number: int, window: int, sub: int | None) -> tuple[int, ...]:
        """The seed of one window's random draws (a window before the start, numbered below 0, has its own)."""
        head = (self.seed, stream, number, window) if window >= 0 else (self.seed, stream + 1, number, -window)
        return head if sub is None else (*head, sub)

    def _block_values(self, b: int, window: int, sub: int | None, t0: int, span_ms: int) -> tuple[Ints, Floats]:
        block = self.blocks[b]
        samples = span_ms // block.interval_ms
        ts = t0 + block.offsets_ms[:, None] + np.arange(samples, dtype=np.int64)[None, :] * block.interval_ms
        rng = np.random.default_rng(self._key(_NOISE_STREAM, b, window, sub))
        vals = block.values(np.arange(block.sensors.size, dtype=np.intp), ts, rng)
        self._apply_effects(b, window, t0, ts, vals, sub, t0 + span_ms)
        if block.low is not None and block.high is not None:
            vals = np.clip(vals, block.low[:, None], block.high[:, None])
        if block.decimals >= 0:
            vals = np.round(vals, block.decimals)
        return ts, vals

    def _sub_chunks(self, window: int) -> Iterator[ReadingChunk]:
        w0 = self.start_ms + window * self.window_ms
        singles = [
            (block.sensors.astype(np.int32), *self._block_values(b, window, None, w0, self.window_ms))
            for b, block in enumerate(self.blocks)
            if not block.high_rate
        ]
        for sub in range(self.window_ms // self.chunk_ms):
            t0 = w0 + sub * self.chunk_ms
            t1 = min(t0 + self.chunk_ms, self.end_ms)
            if t0 >= self.end_ms:
                return
            indices, times, values = [], [], []
            for sensors, ts, vals in singles:
                keep = (ts >= t0) & (ts < t1) & ~np.isnan(vals)
                indices.append(np.broadcast_to(sensors[:, None], ts.shape)[keep])
                times.append(ts[keep])
                values.append(vals[keep])
            batches: list[BatchBlock] = []
            for b, block in enumerate(self.blocks):
                if block.high_rate:
                    ts, vals = self._block_values(b, window, sub, t0, self.chunk_ms)
                    batches.extend(self._batches(block, ts, vals, t1))
            yield self._assemble(t0, t1, indices, times, values, batches)

    def chunk(self, window: int) -> ReadingChunk:
        """The readings of window number ``window`` (whole window, whatever ``chunk_ms`` is)."""
        t0 = self.start_ms + window * self.window_ms
        t1 = min(t0 + self.window_ms, self.end_ms)
        indices: list[NDArray[np.int32]] = []
        times: list[Ints] = []
        values: list[Floats] = []
        batches: list[BatchBlock] = []
        for b, block in enumerate(self.blocks):
            ts, vals = self._block_values(b, window, None, t0, self.window_ms)
            if block.high_rate:
                batches.extend(self._batches(block, ts, vals, t1))
                continue
            keep = (ts < t1) & ~np.isnan(vals)
            indices.append(np.broadcast_to(block.sensors.astype(np.int32)[:, None], ts.shape)[keep])
            times.append(ts[keep])
            values.append(vals[keep])
        return self._assemble(t0, t1, indices, times, values, batches)

    @staticmethod
    def _assemble(
        t0: int, t1: int, indices: list[NDArray[np.int32]], times: list[Ints], values: list[Floats],
        batches: list[BatchBlock],
    ) -> ReadingChunk:  # fmt: skip
        if times:
            ts_all = np.concatenate(times)
            order = np.argsort(ts_all, kind="stable")
            sensor_index = np.concatenate(indices)[order]
            ts_sorted = ts_all[order]
            value = np.concatenate(values)[order]
        else:
            sensor_index, ts_sorted, value = np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0)
        batches.sort(key=lambda batch: batch.t0_ms)
        return ReadingChunk(t0, t1, sensor_index, ts_sorted, value, batches)

    def _apply_effects(
        self, block: int, window: int, t0: int, ts: Ints, vals: Floats, sub: int | None = None, t1: int | None = None
    ) -> None:
        t1 = t0 + self.window_ms if t1 is None else t1
        for number, row, effect in self._by_block.get(block, []):
            if effect.start_ms >= t1 or effect.end_ms <= t0:
                continue
            rng = np.random.default_rng(self._key(_EFFECT_STREAM, number, window, sub))
            effect.apply(ts[row], vals[row], rng)

    @staticmethod
    def _batches(block: Block, ts: Ints, vals: Floats, t1: int) -> Iterator[BatchBlock]:
        per_batch = block.batch_ms // block.interval_ms
        count = -(-ts.shape[1] // per_batch)
        starts = ts[:, ::per_batch]
        padded = vals
        if count * per_batch != vals.shape[1]:
            padded = np.full((vals.shape[0], count * per_batch), np.nan)
            padded[:, : vals.shape[1]] = vals
        # a dropout loses the whole edge batch (a partial batch at the end is dropped as well)
        ok = ~np.isnan(padded.reshape(vals.shape[0], count, per_batch)).any(axis=2) & (starts < t1)
        sensors = block.sensors.tolist()
        for row, k in zip(*(a.tolist() for a in np.nonzero(ok)), strict=True):
            lo = k * per_batch
            yield BatchBlock(sensors[row], int(starts[row, k]), block.interval_ms, vals[row, lo : lo + per_batch])
