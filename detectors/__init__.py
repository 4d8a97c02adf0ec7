"""Pure detection logic: graded rules, online anomaly models, fault checks, alarm state machine.

Never imports the stream framework, Kafka, QuestDB or FastAPI.
"""
