"""Pure detection logic: graded rules, online anomaly models, fault checks, alarm state machine.

Never imports the stream framework, Kafka, QuestDB or FastAPI. The entry point is
:class:`Detectors` (see :mod:`lifeline.detectors.engine`).
"""

from .api import Finding, SensorResult, WindowStats
from .config import NATIVE_TIER_MAP, RulesConfig, load_rules_config, native_tier
from .engine import Detectors
from .state import GroupState, SensorState

__all__ = [
    "NATIVE_TIER_MAP",
    "Detectors",
    "Finding",
    "GroupState",
    "RulesConfig",
    "SensorResult",
    "SensorState",
    "WindowStats",
    "load_rules_config",
    "native_tier",
]
