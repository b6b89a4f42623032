"""A tiny HTTP server in a daemon thread of its own, for the endpoints that must answer even when the
asyncio loop is busy or blocked: the health probes and the metrics scrape."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple


class Answer(NamedTuple):
    status: int
    content_type: str
    body: bytes


def serve_in_thread(host: str, port: int, answer: Callable[[str], Answer], *, name: str,
                    logger: logging.Logger) -> ThreadingHTTPServer:
    """Serve GET requests with ``answer(path with query)`` from a daemon thread; returns the server
    (``shutdown()`` stops it). Requests are logged at debug level only: probes and scrapes come every
    few seconds."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base class's name)
            logger.debug(f"{name}: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server
