"""A small HTTP server on 127.0.0.1 for download tests, with the faults real servers have.

Each served path has a behaviour: serve normally (with Range support), drop the
connection part-way once or always, answer 404, or serve slowly. The server
records every request so tests can assert what the client asked for.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    drop_after: int | None = None  # close the connection after this many bytes...
    drops_left: int = 0  # ...this many times (then serve normally)
    always_drop: bool = False
    delay_per_chunk: float = 0.0
    range_support: bool = True
    content_type: str | None = None  # e.g. text/html for a simple-index page pip reads


@dataclass
class Request:
    path: str
    range: str | None


@dataclass
class FaultyServer:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def _handler(server: FaultyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            server.requests.append(Request(self.path, self.headers.get("Range")))
            route = server.routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            header_range = self.headers.get("Range")
            if header_range and route.range_support:
                start = int(header_range.split("=")[1].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(route.body) - 1}/{len(route.body)}")
            else:
                self.send_response(200)
            payload = route.body[start:]
            self.send_header("Content-Length", str(len(payload)))
            if route.content_type:
                self.send_header("Content-Type", route.content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            cut = None
            if route.always_drop or route.drops_left > 0:
                route.drops_left -= 1
                cut = max(0, (route.drop_after or len(route.body) // 2) - start) or len(payload) // 2
            sent = 0
            for i in range(0, len(payload), 8192):
                chunk = payload[i : i + 8192]
                if cut is not None and sent + len(chunk) > cut:
                    self.wfile.write(chunk[: cut - sent])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
                if route.delay_per_chunk:
                    time.sleep(route.delay_per_chunk)

    return Handler


def start(server: FaultyServer) -> tuple[ThreadingHTTPServer, threading.Thread]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread
