"""Real local receivers for alert tests: an aiosmtpd SMTP server and an HTTP server
that records every request, both on 127.0.0.1."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port

__all__ = ["HttpReceiver", "Recorded", "SmtpReceiver", "wait_for"]


def wait_for(check: Callable[[], bool], timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.1)


class _MailHandler:
    def __init__(self, sink: list[EmailMessage]) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.sink.append(mail)
        return "250 OK"


class SmtpReceiver:
    """aiosmtpd on a free port; ``messages`` fills as mail arrives.

    ``tls`` with ``mode`` 'starttls' requires STARTTLS (and AUTH only over TLS); 'tls' is
    implicit TLS. ``login`` is the one accepted (user, password)."""

    def __init__(
        self, tls: ssl.SSLContext | None = None, mode: str = "starttls", login: tuple[str, str] | None = None
    ) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []
        self.port = free_port()
        options: dict[str, Any] = {}
        if login is not None:
            # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; implicit TLS is TLS throughout.
            options.update(authenticator=self._authenticator(login), auth_require_tls=mode == "starttls")
        if tls is not None and mode == "starttls":
            options.update(tls_context=tls, require_starttls=True)
        elif tls is not None:
            options.update(ssl_context=tls)
        self._controller = Controller(
            _MailHandler(self.messages),
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="localhost",
            **options,
        )

    def _authenticator(self, login: tuple[str, str]) -> Callable[..., AuthResult]:
        def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = (
                isinstance(auth_data, LoginPassword)
                and (auth_data.login.decode(), auth_data.password.decode()) == login
            )
            if ok:
                self.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)  # handled=True would leave the client waiting

        return check

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records POSTs; answers ``status`` (settable, to test retries)."""

    status: int = 200
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    def __enter__(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(Recorded(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
