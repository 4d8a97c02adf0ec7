"""Test helpers (used by the test suite and the benchmark): a live API server in a thread, a webhook
receiver and an SMTP capture server, all on 127.0.0.1 with ports chosen by the OS.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn
from fastapi import FastAPI

from lifeline.api.settings import ApiSettings

__all__ = ["CapturedMail", "LiveServer", "SmtpCapture", "WebhookReceiver", "free_port", "wait_for_api", "wait_until"]


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(predicate: Any, timeout_s: float = 20.0, interval_s: float = 0.05, what: str = "condition") -> None:
    """Poll ``predicate()`` until true; ``TimeoutError`` naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")


def wait_for_api(base_url: str, timeout_s: float = 60.0) -> None:
    """Wait until the API at ``base_url`` answers ``/healthz`` with 200 (its hub is ready)."""
    import httpx

    def healthy() -> bool:
        try:
            return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout_s, 0.2, "the API to become ready")


class LiveServer:
    """Serve an ASGI app with uvicorn in a background thread on 127.0.0.1 (free port), configured as
    ``lifeline api`` serves it (:func:`~lifeline.api.app.uvicorn_options` of ``api``)."""

    def __init__(
        self, app: FastAPI, *, ws: str = "websockets-sansio", log_level: str = "warning",
        api: ApiSettings | None = None,
    ) -> None:  # fmt: skip
        from lifeline.api.app import uvicorn_options

        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        options = {**uvicorn_options(api or ApiSettings()), "ws": ws, "lifespan": "on"}
        del options["host"], options["port"]
        config = uvicorn.Config(app, log_level=log_level, **options)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self._thread.start()
        wait_until(lambda: self.server.started, 60, what="the API server to start")
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self._thread.join(30)


@dataclass
class _Hook:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """A loopback HTTP server that records every POST; answers ``status`` (settable to test retries)."""

    def __init__(self) -> None:
        self.received: list[_Hook] = []
        self.status = 200
        self.failures_left = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.failures_left > 0:
                    receiver.failures_left -= 1
                    self.send_response(503)
                else:
                    receiver.received.append(_Hook(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        """The URL of ``path`` on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class CapturedMail:
    """One e-mail received by :class:`SmtpCapture`."""

    sender: str
    recipients: list[str]
    message: EmailMessage = field(repr=False)

    @property
    def subject(self) -> str:
        """The Subject header."""
        return str(self.message["Subject"])


class SmtpCapture:
    """A loopback SMTP server (aiosmtpd) that keeps every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[CapturedMail] = []
        capture = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                raw = envelope.original_content or envelope.content
                capture.messages.append(
                    CapturedMail(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(raw))
                )
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpCapture:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()
