#!/usr/bin/env python3
# What a client without good manners does to the gate, one check per line of output ("NAME VALUE"):
#   connection-abuse.py HOST PORT TOKEN CLIENT_LIMIT
#   partial-head   seconds until the gate closed a connection that sent half a request head (or "open")
#   idle-http      seconds until it closed a keep-alive connection idle after one answered request
#   idle-ws        "open" when an upgraded /ws connection, idle as long, is still open
#   over-limit     "closed" when the connection past CLIENT_LIMIT is closed at once
#   connect        the status line answered to an authenticated CONNECT, then "alive" if the gate still answers
import base64
import os
import socket
import sys
import time

host, port, token, limit = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])


def connect():
    return socket.create_connection((host, port), timeout=30)


def seconds_until_closed(sock, most=30.0):
    """Reads until end of file; the seconds it took, or None if still open after `most`."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < most:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - started
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - started
    return None


def answer(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def show(name, value):
    print(name, value, flush=True)


s = connect()
s.sendall(b"GET /system_stats HTTP/1.1\r\nHost: x\r\n")
took = seconds_until_closed(s)
show("partial-head", "open" if took is None else f"{took:.1f}")

s = connect()
s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
answer(s)
took = seconds_until_closed(s)
show("idle-http", "open" if took is None else f"{took:.1f}")

s = connect()
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /ws?clientId=abuse HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
head = answer(s)
took = seconds_until_closed(s, most=float(os.environ.get("IDLE_WAIT", "8")))
show("idle-ws", ("open" if took is None else f"closed after {took:.1f}") + (" 101" if b" 101 " in head else " no-101"))
s.close()

held = [connect() for _ in range(limit)]
extra = connect()
took = seconds_until_closed(extra, most=3)
show("over-limit", "open" if took is None else "closed")
for h in held:
    h.close()

s = connect()
s.sendall(f"CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
status = answer(s).split(b"\r\n")[0].decode("latin-1")
time.sleep(0.5)
s2 = connect()
s2.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
alive = b" 200 " in answer(s2)
show("connect", f"{status} {'alive' if alive else 'dead'}")
