"""What the tests' HTTPS servers share (https-server/server.py, standin-hub/server.py; stdlib only):
the JSON request log, the busy file that counts connections accepted and not yet logged (so a test reads
a complete log), and a threading TLS server listening on several addresses with one port."""
import json
import os
import ssl
import threading
from http.server import ThreadingHTTPServer


class RequestBook:
    """The request log (one JSON line per request) and the busy file."""

    def __init__(self, log, busy_file):
        self.log_path = log
        self.busy_file = busy_file
        self.lock = threading.Lock()
        self.busy = 0

    def write(self, record):
        with self.lock, open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def count(self, change):
        """A connection counts from its accept (+1) until its log lines are written (-1)."""
        with self.lock:
            self.busy += change
            with open(self.busy_file + ".tmp", "w") as f:
                f.write(str(self.busy))
            os.rename(self.busy_file + ".tmp", self.busy_file)


def serve(hosts, port, handler, cert, key, book, port_file):
    """Listens on each of `hosts` with one port (0: any free one), writes it to `port_file` when ready,
    and returns it; the servers run in daemon threads."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def process_request(self, request, client_address):
            # Counted in the accepting thread, before the connection's own thread starts: no gap
            # where it is uncounted.
            book.count(+1)
            try:
                super().process_request(request, client_address)
            except BaseException:
                book.count(-1)
                raise

        def process_request_thread(self, request, client_address):
            try:
                super().process_request_thread(request, client_address)
            finally:
                book.count(-1)

        def finish_request(self, request, client_address):
            # The TLS handshake runs in the connection's thread, so a slow client never blocks accept().
            try:
                request = context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
            super().finish_request(request, client_address)

    book.count(0)
    for host in hosts:
        server = Server((host, port), handler)
        port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(port_file + ".tmp", port_file)
    return port
