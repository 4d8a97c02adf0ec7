"""A compact per-sensor time-of-day profile: 24 hourly slots of the mean and variance of window means.

What a regulator's outlet pressure or a station's flow normally is at this hour of the local day, learned
from the sensor's own history (docs/domain.md#gas-pressure-time-of-day-3σ-and-rupture):

* readings are averaged over tumbling windows (``window_ms``); each closed window mean updates the slot of
  its local hour: an exponentially weighted mean and variance, the weight ``1/n`` while the slot is young
  and ``1/max_windows`` after (a memory of about six weeks of 10-min windows);
* **robust**: once a slot holds a day of windows, a window mean is winsorised at 3σ of the slot before it
  is learned, so a creeping regulator or a rupture moves its slot by at most 3σ/n per window instead of
  becoming "normal" within hours;
* **judges only after** ``min_days`` (3) days: a slot answers :meth:`TimeOfDayProfile.expected` once it
  has learned ``min_days`` × (windows per hour) window means, and blends with the adjacent slot (linear
  between slot midpoints) when that one is ready too, so the morning ramp is not taken for an anomaly;
* **learn-then-score**: :meth:`TimeOfDayProfile.expected` reads only what was learned before; a reading
  passed to :meth:`TimeOfDayProfile.observe` is learned when its window closes (at the first reading of a
  later window), never before it was scored.

The state is one packed record of :data:`PROFILE_BYTES` (232) bytes: float32 means and variances, uint8
counts, the open window (number, sum, readings). It lives in the sensor's auxiliary float64 array
(:meth:`TimeOfDayProfile.in_aux`, 29 slots) or in its own buffer (:meth:`TimeOfDayProfile.new`).

>>> import math
>>> hour = 3_600_000
>>> profile = TimeOfDayProfile.new(window_ms=hour, utc_offset_h=0.0)
>>> level = lambda h: 0.30 - 0.01 * math.cos(2 * math.pi * h / 24)   # a daily swing of ±3 %
>>> for h in range(72):                                  # three days, one reading per hour
...     assert profile.expected(h * hour) is None        # not judged before 3 days of history
...     profile.observe(h * hour, level(h) + 0.0005 * (-1) ** (h // 24))
>>> profile.observe(72 * hour, level(0))                 # closes the last window of day 3
>>> mean, sigma = profile.expected(72 * hour + hour // 2)
>>> round(mean, 4), round(sigma, 4)
(0.2902, 0.0005)
>>> round(profile.z(72 * hour + hour // 2, 0.32), 1)      # 10 % above the profile: far beyond 3σ
63.3
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["PROFILE_BYTES", "PROFILE_DTYPE", "PROFILE_SLOTS", "TimeOfDayProfile"]

_MS_PER_H = 3_600_000
_HOURS = 24

#: the packed state: the open window first (its number as a float64 is never NaN once initialised, which
#: tells a fresh NaN-filled auxiliary array from a profile), then the 24 slots
PROFILE_DTYPE = np.dtype([
    ("window", "<f8"),        # number of the open window (ts // window_ms), -1 when none
    ("sum", "<f4"),           # sum of its readings
    ("n", "<u2"),             # readings in it
    ("spare", "u1", 2),
    ("mean", "<f4", _HOURS),  # per local hour: EW mean of window means
    ("var", "<f4", _HOURS),   # per local hour: EW variance of window means
    ("count", "u1", _HOURS),  # per local hour: window means learned (saturates at max_windows)
])  # fmt: skip
#: bytes of the packed state
PROFILE_BYTES = PROFILE_DTYPE.itemsize
#: float64 slots of an auxiliary array that hold it
PROFILE_SLOTS = PROFILE_BYTES // 8


class TimeOfDayProfile:
    """24 hourly slots of the mean and variance of a sensor's window means; see the module doc.

    A thin view: the numbers live in the packed record (``buffer``), the parameters are not stored.
    """

    __slots__ = ("_rec", "max_windows", "min_rel_sigma", "min_windows", "robust_from", "utc_offset_ms", "window_ms")

    def __init__(
        self, buffer: npt.NDArray[np.uint8], window_ms: int, utc_offset_h: float = 8.0, min_days: float = 3.0,
        max_windows: int = 255, min_rel_sigma: float = 0.001,
    ) -> None:  # fmt: skip
        """View ``buffer`` (:data:`PROFILE_BYTES` bytes, already initialised) as a profile of ``window_ms`` windows."""
        self._rec = buffer[:PROFILE_BYTES].view(PROFILE_DTYPE)[0]
        self.window_ms = max(1, int(window_ms))
        self.utc_offset_ms = round(utc_offset_h * _MS_PER_H)
        per_hour = max(1.0, _MS_PER_H / self.window_ms)
        self.min_windows = min(255, math.ceil(min_days * per_hour))
        self.robust_from = max(3, math.ceil(per_hour))  # a day of windows, and enough for a variance
        self.max_windows = max(self.min_windows, min(255, int(max_windows)))
        self.min_rel_sigma = min_rel_sigma

    @classmethod
    def new(cls, window_ms: int, utc_offset_h: float = 8.0, min_days: float = 3.0) -> TimeOfDayProfile:
        """A fresh profile in its own buffer."""
        buffer = np.zeros(PROFILE_BYTES, dtype=np.uint8)
        _reset(buffer)
        return cls(buffer, window_ms, utc_offset_h, min_days)

    @classmethod
    def in_aux(
        cls, aux: npt.NDArray[np.float64], at: int, window_ms: int, utc_offset_h: float = 8.0, min_days: float = 3.0
    ) -> TimeOfDayProfile:
        """The profile kept in ``aux[at : at + PROFILE_SLOTS]`` (initialised there when still NaN)."""
        buffer = aux[at : at + PROFILE_SLOTS].view(np.uint8)
        if math.isnan(aux[at]):
            _reset(buffer)
        return cls(buffer, window_ms, utc_offset_h, min_days)

    # -- reading the profile -------------------------------------------------------------------

    def slot(self, ts_ms: int) -> int:
        """The local hour (0..23) of an event time."""
        return int(((ts_ms + self.utc_offset_ms) // _MS_PER_H) % _HOURS)

    def ready(self, slot: int) -> bool:
        """Whether a slot has learned ``min_days`` days of window means."""
        return int(self._rec["count"][slot]) >= self.min_windows

    def expected(self, ts_ms: int, blend: bool = True) -> tuple[float, float] | None:
        """The expected level and its σ (of a window mean) at ``ts_ms``; ``None`` while its slot is young.

        With ``blend``, between the midpoints of two ready slots both are interpolated linearly (a smooth daily
        curve); without it, the slot's own statistics (a demand that steps at a given hour). σ is floored at
        ``min_rel_sigma`` of the level (a perfectly steady series would otherwise call any change 3σ).
        """
        local = ts_ms + self.utc_offset_ms
        slot = int((local // _MS_PER_H) % _HOURS)
        if not self.ready(slot):
            return None
        frac = (local % _MS_PER_H) / _MS_PER_H - 0.5
        neighbour = (slot + (1 if frac >= 0 else -1)) % _HOURS
        share = abs(frac) if blend and self.ready(neighbour) else 0.0
        means, variances = self._rec["mean"], self._rec["var"]
        mean = (1.0 - share) * float(means[slot]) + share * float(means[neighbour])
        var = (1.0 - share) * float(variances[slot]) + share * float(variances[neighbour])
        return mean, max(math.sqrt(max(var, 0.0)), self.min_rel_sigma * abs(mean), 1e-9)

    def z(self, ts_ms: int, value: float) -> float:
        """How many σ ``value`` lies from the profile at ``ts_ms`` (NaN while the slot is young)."""
        band = self.expected(ts_ms)
        return math.nan if band is None else (value - band[0]) / band[1]

    # -- learning --------------------------------------------------------------------------------

    def observe(self, ts_ms: int, value: float) -> None:
        """Add a reading to its window; a reading of a later window first learns the open one."""
        rec = self._rec
        window = ts_ms // self.window_ms
        if window != rec["window"]:
            if rec["n"] > 0 and rec["window"] >= 0:
                self.learn(int(rec["window"]) * self.window_ms + self.window_ms // 2, float(rec["sum"]) / int(rec["n"]))
            rec["window"], rec["sum"], rec["n"] = window, 0.0, 0
        if math.isfinite(value):
            rec["sum"] += value
            rec["n"] = min(int(rec["n"]) + 1, 65_535)

    def learn(self, ts_ms: int, window_mean: float) -> None:
        """Learn one window mean at its midpoint ``ts_ms``, winsorised at 3σ once its slot holds a day."""
        rec = self._rec
        slot = self.slot(ts_ms)
        count = int(rec["count"][slot])
        mean, var = float(rec["mean"][slot]), float(rec["var"][slot])
        x = window_mean
        if count == 0:
            rec["mean"][slot], rec["var"][slot], rec["count"][slot] = x, 0.0, 1
            return
        if count >= self.robust_from:
            limit = 3.0 * max(math.sqrt(max(var, 0.0)), self.min_rel_sigma * abs(mean), 1e-9)
            x = min(max(x, mean - limit), mean + limit)
        a = 1.0 / min(count + 1, self.max_windows)
        d = x - mean
        rec["mean"][slot] = mean + a * d
        rec["var"][slot] = (1.0 - a) * (var + a * d * d)
        rec["count"][slot] = min(count + 1, self.max_windows)

    def to_bytes(self) -> bytes:
        """The packed state (:data:`PROFILE_BYTES` bytes)."""
        return bytes(self._rec.tobytes())


def _reset(buffer: npt.NDArray[np.uint8]) -> None:
    """Initialise a packed record: no open window, empty slots."""
    buffer[:PROFILE_BYTES] = 0
    buffer[:PROFILE_BYTES].view(PROFILE_DTYPE)[0]["window"] = -1.0
