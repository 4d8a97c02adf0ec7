"""Reusable signal effects: the building blocks of incidents, look-alikes and sensor faults.

Each effect changes one sensor's samples in place inside its span (see :class:`~.engine.Effect`).
They are pure functions of event time plus, where noted, noise drawn from the window's generator,
so they give the same numbers whichever window a sample falls in.
"""

from __future__ import annotations

import numpy as np

from lifeline.simulators.engine import Effect, Engine, Floats, Ints

__all__ = [
    "Dropout",
    "Freeze",
    "LinearRamp",
    "Oscillation",
    "Replace",
    "ScaleDown",
    "SigmoidRise",
    "Spike",
    "Step",
    "Trapezoid",
]


class SigmoidRise(Effect):
    """A slow logistic rise to ``plateau`` centred ``rise_ms/2`` after ``onset_ms``, held until ``end_ms``.

    ``fluctuation`` is the relative standard deviation of multiplicative noise (cover ventilation,
    traffic pumping); it is left out of noise-free evaluations.
    """

    def __init__(
        self, sensor: int, onset_ms: int, end_ms: int, plateau: float, rise_ms: int, fluctuation: float = 0.0
    ) -> None:
        super().__init__(sensor, onset_ms, end_ms)
        self.plateau = plateau
        self.rise_ms = rise_ms
        self.fluctuation = fluctuation

    def level(self, ts_ms: Ints) -> Floats:
        """The deterministic part of the rise at ``ts_ms`` (zero outside the span)."""
        centre = self.start_ms + self.rise_ms / 2
        x = (ts_ms - centre) / (self.rise_ms / 8)
        level: Floats = self.plateau / (1 + np.exp(-np.clip(x, -50, 50)))
        return np.where(self.span(ts_ms), level, 0.0)

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Add the rise, with multiplicative fluctuation when noise is on."""
        level = self.level(ts_ms)
        if rng is not None and self.fluctuation > 0:
            level = level * np.clip(1 + self.fluctuation * rng.standard_normal(ts_ms.size), 0.2, 2.0)
        values += level


class Step(Effect):
    """Add ``delta`` from ``start_ms`` to ``end_ms``, reached over ``ramp_ms``, with optional damped ringing."""

    def __init__(
        self, sensor: int, start_ms: int, end_ms: int, delta: float, ramp_ms: int = 0, ringing: float = 0.0
    ) -> None:
        super().__init__(sensor, start_ms, end_ms)
        self.delta = delta
        self.ramp_ms = ramp_ms
        self.ringing = ringing

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Add the step (and ringing that dies out within about a minute)."""
        mask = self.span(ts_ms)
        if not mask.any():
            return
        since = (ts_ms[mask] - self.start_ms).astype(np.float64)
        ramp = np.minimum(since / self.ramp_ms, 1.0) if self.ramp_ms > 0 else 1.0
        ring = self.ringing * np.exp(-since / 30_000.0) * np.cos(2 * np.pi * since / 8_000.0)
        values[mask] += self.delta * ramp + ring


class Trapezoid(Effect):
    """Add ``delta`` with linear ramps of ``ramp_ms`` at both ends: a plateau such as a truck queue."""

    def __init__(self, sensor: int, start_ms: int, end_ms: int, delta: float, ramp_ms: int) -> None:
        super().__init__(sensor, start_ms, end_ms)
        self.delta = delta
        self.ramp_ms = max(ramp_ms, 1)

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Add the trapezoid."""
        mask = self.span(ts_ms)
        if mask.any():
            t = ts_ms[mask]
            up = (t - self.start_ms) / self.ramp_ms
            down = (self.end_ms - t) / self.ramp_ms
            values[mask] += self.delta * np.clip(np.minimum(up, down), 0.0, 1.0)


class LinearRamp(Effect):
    """Add ``rate_per_h`` × hours since ``start_ms`` (drift, a creeping leak); held at the end value after."""

    def __init__(self, sensor: int, start_ms: int, end_ms: int, rate_per_h: float, hold_after: bool = False) -> None:
        super().__init__(sensor, start_ms, end_ms)
        self.rate_per_h = rate_per_h
        self.hold_after = hold_after

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Add the ramp."""
        end = np.iinfo(np.int64).max if self.hold_after else self.end_ms
        mask = (ts_ms >= self.start_ms) & (ts_ms < end)
        if mask.any():
            hours = (np.minimum(ts_ms[mask], self.end_ms) - self.start_ms) / 3_600_000
            values[mask] += self.rate_per_h * hours


class Oscillation(Effect):
    """Add ``amplitude`` × sin(2π (t − start) / ``period_ms``): a regulator hunting around its set point."""

    def __init__(self, sensor: int, start_ms: int, end_ms: int, amplitude: float, period_ms: int) -> None:
        super().__init__(sensor, start_ms, end_ms)
        self.amplitude = amplitude
        self.period_ms = max(1, period_ms)

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Add the oscillation."""
        mask = self.span(ts_ms)
        if mask.any():
            phase = (ts_ms[mask] - self.start_ms) / self.period_ms
            values[mask] += self.amplitude * np.sin(2 * np.pi * phase)


class Freeze(Effect):
    """Hold the value the sensor had when the span began: a stuck sensor (``noise_sd=0``) or a jammed part.

    The held value is the noise-free signal at the first sample in the span, with every earlier
    effect applied; it is resolved by :meth:`prepare` once the engine exists.
    """

    def __init__(self, sensor: int, start_ms: int, end_ms: int, noise_sd: float = 0.0) -> None:
        super().__init__(sensor, start_ms, end_ms)
        self.value = 0.0
        self.noise_sd = noise_sd

    def prepare(self, engine: Engine) -> None:
        """Take the held value from the signal at the first sample of the span."""
        times = engine.sample_times(self.sensor)
        inside = times[times >= self.start_ms][:1]
        if inside.size:
            self.value = float(engine.evaluate(self.sensor, inside, effects_before=self, include_faults=True)[0])

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Hold the constant."""
        mask = self.span(ts_ms)
        values[mask] = self.value
        if rng is not None and self.noise_sd > 0 and mask.any():
            values[mask] += self.noise_sd * rng.standard_normal(int(mask.sum()))


class Replace(Effect):
    """Replace values by ``value`` (saturation at full scale, a lifted cover's tilt)."""

    def __init__(self, sensor: int, start_ms: int, end_ms: int, value: float) -> None:
        super().__init__(sensor, start_ms, end_ms)
        self.value = value

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Overwrite with the constant."""
        values[self.span(ts_ms)] = self.value


class ScaleDown(Effect):
    """Multiply by ``factor`` inside the span, then recover exponentially with ``recovery_ms`` (ventilation)."""

    def __init__(self, sensor: int, start_ms: int, end_ms: int, factor: float, recovery_ms: int) -> None:
        super().__init__(sensor, start_ms, end_ms + 5 * recovery_ms)
        self.open_end_ms = end_ms
        self.factor = factor
        self.recovery_ms = recovery_ms

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Scale down, then let the level return."""
        inside = (ts_ms >= self.start_ms) & (ts_ms < self.open_end_ms)
        values[inside] *= self.factor
        after = (ts_ms >= self.open_end_ms) & (ts_ms < self.end_ms)
        if after.any():
            back = 1 - np.exp(-(ts_ms[after] - self.open_end_ms) / self.recovery_ms)
            values[after] *= self.factor + (1 - self.factor) * back


class Spike(Effect):
    """Add ``delta`` to the single sample at exactly ``start_ms``."""

    def __init__(self, sensor: int, at_ms: int, delta: float) -> None:
        super().__init__(sensor, at_ms, at_ms + 1)
        self.delta = delta

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Add the spike."""
        values[ts_ms == self.start_ms] += self.delta


class Dropout(Effect):
    """Lose every sample in the span (marked NaN; the engine drops them)."""

    def apply(self, ts_ms: Ints, values: Floats, rng: np.random.Generator | None) -> None:
        """Mark the samples as missing."""
        values[self.span(ts_ms)] = np.nan
