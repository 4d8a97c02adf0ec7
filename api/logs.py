"""Keep bearer tokens out of the logs.

uvicorn's access log (and its ``"WebSocket /ws/alerts?..." [accepted]`` lines) write the full request
target, so a client that puts its token in the query (``?token=…``, ``?access_token=…``) would leave it
in every log file. :class:`RedactTokens` rewrites such query values to ``[redacted]`` in the record
itself, before any handler or formatter sees it; :func:`uvicorn_log_config` is uvicorn's default
logging configuration with that filter on its loggers (``lifeline api`` and the test server use it).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from uvicorn.config import LOGGING_CONFIG

__all__ = ["REDACTED", "TOKEN_PARAMETERS", "RedactTokens", "redact_tokens", "uvicorn_log_config"]

REDACTED = "[redacted]"
TOKEN_PARAMETERS = frozenset({"token", "access_token"})
_QUERY_PAIR = re.compile(r"([?&;])([^=&;?#\s\"']*)=([^&;#\s\"']*)")


def _redact_pair(match: re.Match[str]) -> str:
    separator, key, _value = match.groups()
    if unquote_plus(key).strip().lower() in TOKEN_PARAMETERS:
        return f"{separator}{key}={REDACTED}"
    return match.group(0)


def redact_tokens(text: str) -> str:
    """``text`` with the value of every ``token=`` / ``access_token=`` query parameter replaced."""
    if "=" not in text:
        return text
    return _QUERY_PAIR.sub(_redact_pair, text)


def _redact_arg(value: Any) -> Any:
    return redact_tokens(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """A logging filter that redacts token query values in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with :class:`RedactTokens` on its loggers."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_tokens": {"()": RedactTokens}}
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        config["loggers"].setdefault(name, {})["filters"] = ["redact_tokens"]
    return config
