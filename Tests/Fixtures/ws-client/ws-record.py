# A minimal websocket client (stdlib, RFC 6455 client side) for the tests of the stand-in's /ws:
#   ws-record.py URL CLIENT_ID TOKEN UNTIL_PROMPTS
# connects to URL/ws?clientId=CLIENT_ID with `Authorization: Bearer TOKEN`, prints the status line of the
# handshake, then every text message as one JSON line (binary frames as "binary N"), flushing each, until
# it has seen `executing` with node null for UNTIL_PROMPTS prompts; then it closes (masked close frame).
import base64
import json
import os
import socket
import struct
import sys
import urllib.parse

url, client_id, token, until = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
parts = urllib.parse.urlsplit(url)
sock = socket.create_connection((parts.hostname, parts.port), timeout=120)
key = base64.b64encode(os.urandom(16)).decode()
headers = [f"GET /ws?clientId={client_id} HTTP/1.1", f"Host: {parts.netloc}", "Upgrade: websocket",
           "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
if token:
    headers.append(f"Authorization: Bearer {token}")
sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    byte = sock.recv(1)
    if not byte:
        break
    head += byte
print(head.decode("latin-1").split("\r\n")[0], flush=True)
if b" 101 " not in head.split(b"\r\n")[0]:
    sys.exit(1)


def exact(n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


done = 0
while done < until:
    b0, b1 = exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", exact(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", exact(8))[0]
    payload = exact(n)
    opcode = b0 & 0x0F
    if opcode == 0x1:
        print(payload.decode("utf-8"), flush=True)
        message = json.loads(payload)
        if message["type"] == "executing" and message["data"].get("node") is None:
            done += 1
    elif opcode == 0x2:
        print(f"binary {n}", flush=True)
    elif opcode == 0x8:
        break
mask = os.urandom(4)
sock.sendall(bytes([0x88, 0x82]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(struct.pack(">H", 1000))))
sock.close()
