"""Kafka and QuestDB helpers, and the launcher that fetches and starts the real servers."""
