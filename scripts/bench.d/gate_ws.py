"""scripts/bench's WebSocket pair for the gate section (stdlib only, RFC 6455, after
Tests/Fixtures/ws-client/ws-record.py):

  python3 gate_ws.py serve PORT      an upstream /ws: answers the upgrade, sends COUNT messages of SIZE
                                     bytes as fast as the socket takes them (one write of them all, built
                                     beforehand), then a close frame; COUNT, SIZE and the kind (text or
                                     binary) come from the query: /ws?count=N&size=B&kind=text;
                                     with &hold=1 no close frame: it waits for the client's
  python3 gate_ws.py client URL TOKEN
                                     connects with `Authorization: Bearer TOKEN`, reads until the close
                                     frame, answers it, and prints one JSON line: messages, bytes, seconds
                                     from the upgrade's answer to the first message and from the first
                                     message to the last, and the handshake status

Text messages look like ComfyUI's `progress` events; binary ones like its preview images (a 4-byte
type, then the bytes). The client's own parsing is the ceiling of every figure: the direct run shows it.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack(">BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
    return head + payload


def message(kind, size):
    if kind == "binary":
        return 0x2, struct.pack(">I", 1) + os.urandom(max(size - 4, 0))
    text = json.dumps({"type": "progress", "data": {"value": 7, "max": 20, "prompt_id":
                       "5f0b6b39-2a55-4c3e-9d8e-0f4a2b1c7d6e", "node": "3"}})
    return 0x1, (text + " " * max(size - len(text), 0)).encode()


def read_head(sock):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            return None, b""
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def serve_one(sock):
    try:
        head, _ = read_head(sock)
        if head is None:
            return
        lines = head.split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(lines[0].split()[1]).query)
        count = int(query.get("count", ["100000"])[0])
        size = int(query.get("size", ["120"])[0])
        kind = query.get("kind", ["text"])[0]
        hold = query.get("hold", ["0"])[0] == "1"
        accept = base64.b64encode(hashlib.sha1((fields["sec-websocket-key"] + GUID).encode()).digest()).decode()
        opcode, payload = message(kind, size)
        blob = frame(opcode, payload) * count + (b"" if hold else frame(0x8, struct.pack(">H", 1000)))
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode() + blob)
        sock.settimeout(600 if hold else 30)
        while sock.recv(65536):  # the client's close frame, then its end
            pass
    except OSError:
        pass
    finally:
        sock.close()


def serve(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(512)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def client(url, token):
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    target = parts.path + ("?" + parts.query if parts.query else "")
    request = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Upgrade: websocket", "Connection: Upgrade",
               f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", f"Authorization: Bearer {token}"]
    t0 = time.monotonic()
    sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode())
    head, buf = read_head(sock)
    status = head.split("\r\n")[0] if head else "no answer"
    if " 101 " not in status + " ":
        print(json.dumps({"status": status, "messages": 0}))
        return 1
    t_upgraded = time.monotonic()
    buf = bytearray(buf)
    pos = 0
    messages = nbytes = 0
    t_first = t_last = None
    closed = False
    while not closed:
        # Whole frames in buf[pos:]; a partial one waits for more bytes.
        while True:
            avail = len(buf) - pos
            if avail < 2:
                break
            b0, b1 = buf[pos], buf[pos + 1]
            n, hl = b1 & 0x7F, 2
            if n == 126:
                if avail < 4:
                    break
                n, hl = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif n == 127:
                if avail < 10:
                    break
                n, hl = struct.unpack_from(">Q", buf, pos + 2)[0], 10
            if avail < hl + n:
                break
            opcode = b0 & 0x0F
            pos += hl + n
            if opcode == 0x8:
                closed = True
                break
            if opcode in (0x1, 0x2, 0x0):
                if b0 & 0x80:
                    messages += 1
                nbytes += n
                t_last = time.monotonic()
                if t_first is None:
                    t_first = t_last
        if closed:
            break
        if pos > 1 << 20:
            del buf[:pos]
            pos = 0
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    mask = os.urandom(4)
    with_close = bytes([0x88, 0x82]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(struct.pack(">H", 1000)))
    try:
        sock.sendall(with_close)
    except OSError:
        pass
    sock.close()
    print(json.dumps({"status": status, "messages": messages, "bytes": nbytes, "closed": closed,
                      "to_first": (t_first - t_upgraded) if t_first else None, "handshake": t_upgraded - t0,
                      "seconds": (t_last - t_first) if t_first else None}))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]))
    elif sys.argv[1:2] == ["client"]:
        sys.exit(client(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
