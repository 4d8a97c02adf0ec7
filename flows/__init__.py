"""Bytewax dataflows that wire the connectors to the detectors."""
