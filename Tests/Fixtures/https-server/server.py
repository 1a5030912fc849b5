#!/usr/bin/env python3
"""A small HTTPS file server for comfy-init's provisioning tests (stdlib only).

Serves the files of --root under /files/NAME with Range support; query knobs change its behaviour:
  drop=N      the first request for this URL sends N body bytes, then drops the connection
  rate=BPS    sends at most BPS bytes per second
  auth=1      401 unless "Authorization: Bearer <--token>"
  norange=1   ignores Range (answers 200 with the whole file)
  flaky=1     the first request for this URL gets a 503
/redirect?to=URL answers 302 to URL (auth=1 works there too); /status/CODE answers CODE.
Every request is logged to --log as one JSON line: which address it reached, path, Range,
whether it carried the token, the status, and the body bytes actually sent.
It listens on each address of --hosts with the same port, written to --port-file when ready.
--busy-file holds the number of connections accepted and not yet done (their log lines written),
so that a test reads the log once it is complete.
"""
import argparse
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tls_fixture import RequestBook, serve  # noqa: E402 (the shared part of the tests' servers)

args = None
once_lock = threading.Lock()
once_done = set()


def first_time(key):
    """True the first time a knob fires for this URL, so a retry then succeeds."""
    with once_lock:
        if key in once_done:
            return False
        once_done.add(key)
        return True


def write_log(record):
    book.write(record)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_HEAD(self):
        self.handle_request(head=True)

    def do_GET(self):
        self.handle_request(head=False)

    def handle_request(self, head):
        started = time.time()
        url = urlsplit(self.path)
        knobs = {k: v[-1] for k, v in parse_qs(url.query).items()}
        auth = self.headers.get("Authorization")
        record = {
            "address": self.connection.getsockname()[0], "host": self.headers.get("Host"), "path": self.path,
            "range": self.headers.get("Range"), "auth": auth, "status": 0, "bytes": 0, "start": started,
            "method": "HEAD" if head else "GET",
        }
        try:
            self.route(url, knobs, auth, head, record)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as error:
            record["error"] = type(error).__name__
            self.close_connection = True
        finally:
            record["end"] = time.time()
            write_log(record)

    def reply(self, code, record, headers=(), body=b""):
        record["status"] = code
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        record["bytes"] = len(body)

    def route(self, url, knobs, auth, head, record):
        if knobs.get("auth") == "1" and auth != "Bearer " + args.token:
            return self.reply(401, record, [("WWW-Authenticate", "Bearer")], b"Invalid credentials in Authorization header")
        if url.path.startswith("/status/"):
            return self.reply(int(url.path[len("/status/"):]), record, body=b"status page")
        if url.path == "/redirect":
            return self.reply(302, record, [("Location", knobs["to"])])
        if not url.path.startswith("/files/"):
            return self.reply(404, record, body=b"not found")
        path = os.path.join(args.root, os.path.basename(url.path))
        if not os.path.isfile(path):
            return self.reply(404, record, body=b"Entry not found")
        if knobs.get("flaky") == "1" and first_time(("flaky", self.path)):
            return self.reply(503, record, body=b"try again")
        self.send_file(path, knobs, head, record)

    def send_file(self, path, knobs, head, record):
        size = os.path.getsize(path)
        start, end = 0, size - 1
        wanted = self.headers.get("Range")
        partial = False
        if wanted and knobs.get("norange") != "1":
            first, _, last = wanted.removeprefix("bytes=").partition("-")
            start = int(first)
            end = int(last) if last else size - 1
            if start >= size:
                return self.reply(416, record, [("Content-Range", f"bytes */{size}")])
            partial = True
        length = end - start + 1
        record["status"] = 206 if partial else 200
        self.send_response(record["status"])
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        drop = int(knobs["drop"]) if "drop" in knobs and first_time(("drop", self.path)) else None
        rate = int(knobs.get("rate", 0))
        with open(path, "rb") as f:
            f.seek(start)
            left = length
            while left > 0:
                chunk = min(left, 1 << 20, max(1, rate // 10) if rate else 1 << 20)
                if drop is not None:
                    chunk = min(chunk, drop - record["bytes"])
                    if chunk <= 0:
                        # Drop the connection without a TLS close_notify, like a network failure.
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        record["dropped"] = True
                        return
                data = f.read(chunk)
                if rate:
                    # Pace before sending, so the log line follows the last byte at once.
                    time.sleep(len(data) / rate)
                self.wfile.write(data)
                record["bytes"] += len(data)
                left -= len(data)


def main():
    global args, book
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--busy-file", required=True)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--hosts", default="127.0.0.1,127.0.0.2")
    args = parser.parse_args()
    book = RequestBook(args.log, args.busy_file)
    serve(args.hosts.split(","), 0, Handler, args.cert, args.key, book, args.port_file)
    threading.Event().wait()


if __name__ == "__main__":
    main()
