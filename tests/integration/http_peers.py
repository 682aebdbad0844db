"""Small HTTP peers for the tests: a request handler that logs nothing and has a
reply(code, body, content_type) helper, and a threaded server that can listen again
on the same port after a close (allow_reuse_address)."""

import http.server
import socketserver


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """BaseHTTPRequestHandler without the stderr log, plus reply()."""

    def reply(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class ThreadedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
