"""Lifeline: a real-time stream processor for city lifeline monitoring (城市生命线安全工程).

The public domain model lives in :mod:`lifeline.models`; settings in :mod:`lifeline.settings`;
the sensor registry in :mod:`lifeline.registry`. Sub-packages: ``lifeline.detectors`` (pure
detection logic), ``lifeline.connectors`` (Kafka, QuestDB, service launcher), ``lifeline.flows``
(Bytewax dataflows), ``lifeline.api`` (FastAPI + notifier), ``lifeline.simulators``.
"""

__version__ = "0.1.0"
