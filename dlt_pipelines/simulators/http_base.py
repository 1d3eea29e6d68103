"""A small threaded HTTP server for the simulators: routing, JSON responses, faults.

Subclasses register routes as (method, regex) -> handler(request) -> Response. Routes are
matched case-insensitively, as the real servers do. The server binds 127.0.0.1 on a free
port and runs in a background thread; use it as a context manager or start()/stop().
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .faults import FaultInjector, FaultSettings


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Faults that would hide an auth answer are not applied to auth failures.
    fault_exempt: bool = False

    @classmethod
    def json(cls, payload, status: int = 200, headers: dict | None = None) -> Response:
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(),
                   {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    @classmethod
    def raw_json(cls, body: bytes, status: int = 200) -> Response:
        """An already-serialised JSON body (pre-rendered responses)."""
        return cls(status, body, {"Content-Type": "application/json; charset=utf-8"})


Handler = Callable[[Request], Response]


class SimulatorServer:
    def __init__(self, faults: FaultSettings | None = None, prefix: str = ""):
        self.faults = FaultInjector(faults)
        self.prefix = prefix.rstrip("/")
        self._routes: list[tuple[str, re.Pattern, Handler]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.request_count = 0
        self._count_lock = threading.Lock()

    # -- routing ----------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.compile("^" + re.escape(self.prefix) + pattern + "/?$", re.IGNORECASE)
        self._routes.append((method.upper(), regex, handler))

    def set_faults(self, settings: FaultSettings) -> None:
        self.faults.configure(settings)

    def dispatch(self, request: Request) -> Response:
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                return handler(request)
        return Response.json({"Message": "No HTTP resource was found that matches the request URI."},
                             404)

    # -- lifecycle --------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> SimulatorServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # the simulators stay quiet
                pass

            def _handle(self):
                with server._count_lock:
                    server.request_count += 1
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command, path=split.path,
                    query={k.lower(): v[-1] for k, v in parse_qs(split.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                )
                fault = server.faults.draw(split.path)
                settings = server.faults.settings
                if settings.latency_ms:
                    time.sleep(settings.latency_ms / 1000)
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "timeout":
                    time.sleep(settings.timeout_seconds)
                if fault == "error":
                    return self._send(Response.json({"Message": "An error has occurred."}, 503))
                if fault == "not_found":
                    return self._send(Response.json({"Message": "No HTTP resource was found."}, 404))
                if fault == "rate_limit":
                    return self._send(Response.json(
                        {"Message": "Too many requests."}, 429,
                        {"Retry-After": str(settings.retry_after_seconds)}))
                try:
                    response = server.dispatch(request)
                except Exception as exc:  # a simulator bug must show, not hang the client
                    response = Response.json({"Message": f"simulator error: {exc}"}, 500)
                if fault == "empty" and response.status == 200 and not response.fault_exempt:
                    response = Response(200, b"[]", response.headers)
                if fault == "malformed" and response.status == 200 and not response.fault_exempt:
                    response = Response(200, response.body[: max(1, len(response.body) // 2)],
                                        response.headers)
                self._send(response)

            def _send(self, response: Response):
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(response.body)))
                try:
                    self.end_headers()
                    self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up first (the timeout fault does this on purpose).
                    self.close_connection = True

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=type(self).__name__)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
