"""FastAPI application (websocket hub, REST, access control) and the notifier."""
