"""A real HTTP server on 127.0.0.1 serving saved pages of several shapes, for the intake tests
(tests/pages/*.html) plus the bad cases: a 500, a slow answer, a redirect loop, a huge body,
an image, a PDF."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGES = Path(__file__).parent / "pages"


def serve(pdf_bytes: bytes):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet test output
            pass

        def _send(self, status, body: bytes, content_type="text/html; charset=utf-8", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers:
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?")[0]
            page = PAGES / path.lstrip("/")
            if path.endswith(".html") and page.is_file():
                return self._send(200, page.read_bytes())
            if path == "/filer/klimatstrategi-2030.pdf":
                return self._send(200, pdf_bytes, "application/pdf")
            if path == "/fel":
                return self._send(500, b"<h1>Internal Server Error</h1>")
            if path == "/saknas":
                return self._send(404, b"<h1>Not Found</h1>")
            if path == "/langsam":
                time.sleep(3)
                return self._send(200, (PAGES / "nyhet.html").read_bytes())
            if path == "/droppvis":      # headers at once, then a trickle: the total time limit counts
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                try:
                    for _ in range(30):
                        self.wfile.write(b"<p>x</p>" * 10)
                        self.wfile.flush()
                        time.sleep(0.2)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return None
            if path == "/slinga":
                return self._send(302, b"", headers=[("Location", "/slinga2")])
            if path == "/slinga2":
                return self._send(302, b"", headers=[("Location", "/slinga")])
            if path.startswith("/kedja/"):
                n = int(path.rsplit("/", 1)[1])
                return self._send(302, b"", headers=[("Location", f"/kedja/{n + 1}")])
            if path == "/vidare":
                return self._send(301, b"", headers=[("Location", "/nyhet.html")])
            if path == "/stor":          # no Content-Length: the reader must stop by itself
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                try:
                    for _ in range(7 * 16):
                        self.wfile.write(b"a" * 65536)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return None
            if path == "/stor-angiven":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(50 * 1024 * 1024))
                self.end_headers()
                return None
            if path == "/bild.png":
                return self._send(200, b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")
            return self._send(404, b"<h1>Not Found</h1>")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server
