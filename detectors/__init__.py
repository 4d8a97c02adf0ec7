"""Pure detection logic: graded rules, online anomaly models, fault checks, alarm state machine.

Never imports the stream framework, Kafka, QuestDB or FastAPI. The entry point is
:class:`Detectors` (see :mod:`lifeline.detectors.engine`).
"""

from .config import NATIVE_TIER_MAP, RulesConfig, load_rules_config, native_tier
from .contract import DetectorSuite
from .engine import Detectors
from .results import Finding, SensorResult, WindowStats
from .state import GroupState, SensorState

__all__ = [
    "NATIVE_TIER_MAP",
    "DetectorSuite",
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
