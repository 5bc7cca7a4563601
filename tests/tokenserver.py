"""A tiny OAuth2 token introspection endpoint on 127.0.0.1, and a Dovecot oauth2 passdb that asks it.

Why: followupd's OAuth2 login (XOAUTH2 / OAUTHBEARER) must be proven against a server that really checks the
token, not against our own idea of one. Dovecot 2.3's ``passdb { driver = oauth2 }`` validates each token by
calling an introspection URL (``introspection_mode = auth``: ``GET`` with ``Authorization: Bearer TOKEN``) and
compares the returned ``email`` with the login name. This endpoint plays Google/Microsoft: it knows the tokens
handed out with :meth:`TokenEndpoint.grant` and answers like RFC 7662 (``active`` true with the owner's
address, else ``active`` false), so a wrong, revoked or someone else's token is refused by Dovecot itself.

Usage::

    with TokenEndpoint() as tokens, DovecotServer(extra_config=tokens.dovecot_config(tmp_path)) as server:
        user = server.add_user()
        token = tokens.grant(user.username)
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

__all__ = ["TokenEndpoint"]


class TokenEndpoint:
    """Valid tokens -> their owner; every request is counted, so a test can tell Dovecot really asked."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()
        self.requests = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                header = self.headers.get("Authorization", "")
                token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
                body = json.dumps(endpoint._introspect(token)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/introspect"

    def grant(self, username: str) -> str:
        """A fresh access token for ``username`` (random, like a real one: nothing to guess in a log)."""
        token = "ya29." + secrets.token_urlsafe(32)
        with self._lock:
            self._owners[token] = username
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._owners.pop(token, None)

    def _introspect(self, token: str) -> dict[str, str]:
        with self._lock:
            self.requests += 1
            owner = self._owners.get(token)
        return {"active": "true", "email": owner} if owner else {"active": "false"}

    def dovecot_config(self, directory: Path) -> str:
        """``extra_config`` for DovecotServer: XOAUTH2 and OAUTHBEARER checked against this endpoint.

        The passdb args file is written to ``directory``, which the unprivileged auth process must be able to
        read (as root Dovecot runs it as the ``dovecot`` user).
        """
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        args = directory / "dovecot-oauth2.conf.ext"
        args.write_text(
            f"introspection_url = {self.url}\n"
            "introspection_mode = auth\n"
            "force_introspection = yes\n"
            "username_attribute = email\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        args.chmod(0o644)
        return f"""
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {args}
}}
"""

    def __enter__(self) -> TokenEndpoint:
        self._thread = threading.Thread(target=self._server.serve_forever, name="token-endpoint", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
