"""Fetch, start, check and stop the local Apache Kafka and QuestDB servers."""
