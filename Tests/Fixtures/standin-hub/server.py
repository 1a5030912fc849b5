#!/usr/bin/env python3
"""A STAND-IN for the Hugging Face Hub, its CDN and CivitAI, for comfy-init's provisioning tests (stdlib only).

No Hub is reachable from the machines these tests run on: every rule below is taken from
../shared/docs/model-sources.md (cited as "m-s" with the bullet it comes from), or marked "stand-in" where
that page says nothing and this server had to choose. Line numbers are those of model-sources.md as
written for issue 20. It is not a copy of any real service.

Addresses (one port, several addresses, so that the Hub and its CDN are different origins, as
huggingface.co and cas-bridge.xethub.hf.co are): --hub-host (default 127.0.0.1) answers the Hub and
CivitAI API paths only; --cdn-host (default 127.0.0.2) answers the CDN and storage paths only. A path
asked at the wrong address is a 404 (stand-in).

The upstream is described by the JSON file --config, re-read on every request, so a test can change it
mid-test (move a branch, change a file, turn a knob). Files are served from --root by name. Keys (camelCase,
as the Swift wrapper Tests/ComfyInitTests/StandinHub.swift writes them):
  repos: {"OWNER/REPO" or "datasets/OWNER/REPO": {gated, private, tokens: [token with access],
          revisions: {branch or tag: commit}, commits: {commit: {path in repo: file name in --root}},
          gitStored: [paths stored in git rather than LFS]}}
  renamed: {"OLD/NAME": "NEW/NAME"}
  civitai: {"VERSION_ID": {files: [{id, name, type, file, primary}], loginRequired, earlyAccess,
            tokens: [tokens that pass early access]}},   civitaiTokens: [tokens of logged-in users]
  cdn: {lifetime (s, default 3600), expireAfterRequests, expiredStatus (default 403), throttle (bytes/s),
        ignoreRange, dropAfterBytes, dropCount (default 1), serial}
  faults: {rateLimit: {count, t, retryAfter, serial}, unavailable: {count, retryAfter, serial}}
A knob that fires a counted number of times counts per (knob, serial): writing it again with a new serial
arms it again.

Hugging Face rules:
  H1 (m-s line 8, "Download URL"): GET and HEAD /{owner}/{repo}/resolve/{rev}/{path}, and /datasets/{owner}/{repo}/...
  H2 (m-s lines 10-17, "huggingface_hub sends a HEAD ... reads"): an LFS file answers 302 with
     `X-Repo-Commit` (the commit the revision resolved to), `X-Linked-Etag` (the quoted SHA-256 of the content, computed here),
     `X-Linked-Size`, and `Location`: a signed URL on the CDN host with `X-Amz-Expires`. `ETag` and
     `Content-Length` describe the redirect itself (stand-in: the ETag is the git SHA-1 of the LFS pointer,
     the length that of the short redirect body); a client must read X-Linked-*.
  H3 (m-s line 14, "for small git-stored files the git SHA-1"): a path in gitStored answers 200 with the content
     itself and `ETag` = the quoted git blob SHA-1, no X-Linked-* (stand-in: no redirect for those).
  H4 (m-s line 10, "follows only relative redirects (renamed repos)"): a renamed repo answers 307 with a relative
     `Location` (/NEW/NAME/resolve/...).
  H5 (m-s lines 28-33, "Errors"): `X-Error-Code` and `X-Error-Message` headers and a JSON body {"error": message}:
     gated, no token: 401 GatedRepo "Access to model X is restricted. You must have access to it and be
     authenticated to access it. Please log in."; gated, a token not in `tokens`: 403 GatedRepo "Access to
     model X is restricted and you are not in the authorized list. Visit ENDPOINT/X to ask for access.";
     a missing repo, or a private one without a token in `tokens`: 401 RepoNotFound; a revision that is
     neither a branch, a tag nor a commit: 404 RevisionNotFound; a path not in the commit: 404
     EntryNotFound (stand-in: the wording of the last three messages).
  H6 (m-s lines 34-35, "Rate limits"): faults.rateLimit: the next `count` resolver requests (Hub and CivitAI API paths)
     answer 429 with `RateLimit: "api";r=0;t=T` (when t is given) and/or `Retry-After: S`.
     faults.unavailable: the next `count` answer 503 (with Retry-After when given; stand-in).
CDN rules (paths /cdn/... for the Hub, /storage/... for CivitAI):
  C1 (m-s lines 22-23, "Ranges"): GET and HEAD with `Range: bytes=A-B`, `A-` or `-N`: 206 with `Content-Range`; a start
     past the end: 416 (stand-in: as RFC 9110). No ETag on the body. `Accept-Ranges: bytes`.
  C2 (m-s line 16, "X-Amz-Expires=3600 (about one hour)", line 47, CivitAI "expires in about a day"): the URL is signed
     (HMAC over path, issue time and lifetime); after `lifetime` seconds, or after `expireAfterRequests`
     requests with the same signature, it answers 403 with an S3-like XML AccessDenied body ("Request has
     expired"; cdn.expiredStatus: another status, e.g. 400, the other answer the issue expects of a CDN whose
     URL expired; stand-in); a changed signature answers 403 SignatureDoesNotMatch (stand-in: S3's wording).
     Each resolve signs a fresh URL. The path carries the content's SHA-256: once a file's content
     changes, its old URLs answer 404 NoSuchKey (stand-in: content-addressed, as the Xet bridge is).
  C3 (m-s line 20, "The Authorization header is dropped when the redirect goes to another host", line
     49, CivitAI "R2 answers 400 Missing x-amz-content-sha256"): any `Authorization` header at the CDN host answers
     400 with an S3-like XML InvalidRequest body, on /cdn as on /storage (stand-in: one answer for both).
  C4 (stand-in, nginx's limit_rate): cdn.throttle caps each response at that many bytes per second.
  C5 (m-s line 23, "A Range request answered 200 means start over"): cdn.ignoreRange answers 200 with the whole file.
  C6 (stand-in): cdn.dropAfterBytes: the next `dropCount` responses of the CDN send that many body bytes
     and then the connection is dropped without a TLS close.
CivitAI rules:
  V1 (m-s lines 43-45, CivitAI first bullet): GET /api/v1/model-versions/{id}: JSON {id, name, files: [{id, name, type,
     sizeKB (KiB, a float), hashes: {SHA256 (upper-case hex), CRC32, AutoV2}, downloadUrl, primary}]}
     (stand-in: no BLAKE3, AutoV1, AutoV3); downloadUrl = https://HUB:PORT/api/download/models/{id}, with
     ?fileId=N for a file that is not the primary one. Unknown id: 404 JSON.
  V2 (m-s lines 46-48, "answers 307 to a signed storage URL ... Token: Authorization: Bearer (preferred) or ?token="):
     GET /api/download/models/{id}: 307 to /storage/... on the CDN host.
  V3 (m-s lines 50-52, "Errors for non-browser clients"): loginRequired without a token in civitaiTokens: 401
     {"error":"Unauthorized","message":"The creator of this asset requires you to be logged in to download
     it"}; earlyAccess without a token in the version's tokens: 403 JSON (stand-in wording).
Log: every request is one JSON line in --log: address (the one it reached), method, path (never the
query: a ?token= stays out of it), kind (hf, cdn, civitai-api, civitai-download, storage, other),
authorization (whether an Authorization header came: never its value), queryToken (whether ?token= came),
range, status, bytes (body bytes sent), start, end, and dropped or error when it applies.
--busy-file holds the number of connections accepted and not yet logged, so that a test reads a complete
log; --port-file gets the port once every address listens.
"""
import argparse
import hashlib
import hmac
import json
import os
import socket
import ssl
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, quote, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tls_fixture import RequestBook, serve  # noqa: E402 (the shared part of the tests' servers)

args = None
book = None
SECRET = os.urandom(32)  # signs the CDN URLs of this run

state_lock = threading.Lock()
fired = {}  # (knob, serial) -> times it fired
signature_uses = {}  # signature -> requests seen
hash_cache = {}  # (path, size, mtime_ns) -> (sha256 hex, git blob sha1 hex)
issue_counter = 0


def write_log(record):
    book.write(record)


def load_config():
    try:
        with open(args.config) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def take(knob, config):
    """Whether a counted knob fires for this request (it fires `count` times per serial)."""
    if not knob or int(knob.get("count", 0)) <= 0:
        return False
    key = json.dumps(knob, sort_keys=True)
    with state_lock:
        used = fired.get(key, 0)
        if used >= int(knob["count"]):
            return False
        fired[key] = used + 1
        return True


def digests(path):
    """SHA-256 (what X-Linked-Etag and CivitAI's hash carry) and the git blob SHA-1 of a served file,
    cached by size and mtime so that a big file is hashed once."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    with state_lock:
        if key in hash_cache:
            return hash_cache[key]
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(b"blob %d\0" % st.st_size)
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha256.update(chunk)
            sha1.update(chunk)
            crc = zlib.crc32(chunk, crc)
    value = (sha256.hexdigest(), sha1.hexdigest(), f"{crc:08X}")
    with state_lock:
        hash_cache[key] = value
    return value


def sign(path, issued, lifetime, nonce):
    message = f"{path}\n{issued}\n{lifetime}\n{nonce}".encode()
    return hmac.new(SECRET, message, hashlib.sha256).hexdigest()


def signed_url(prefix, served, lifetime):
    """https://CDN:PORT/PREFIX/SHA256/NAME?X-Amz-...: a fresh signature per resolve (C2)."""
    global issue_counter
    sha256 = digests(os.path.join(args.root, served))[0]
    path = f"/{prefix}/{sha256}/{quote(served)}"
    issued = int(time.time())
    with state_lock:
        issue_counter += 1
        nonce = issue_counter
    sig = sign(path, issued, lifetime, nonce)
    return (f"https://{args.cdn_host}:{args.port}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={issued}"
            f"&X-Amz-Expires={lifetime}&X-Amz-Nonce={nonce}&X-Amz-Signature={sig}")


def s3_error(code, message):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>standin</RequestId></Error>").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_HEAD(self):
        self.handle_request(head=True)

    def do_GET(self):
        self.handle_request(head=False)

    def handle_request(self, head):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.record = {
            "address": self.connection.getsockname()[0], "method": self.command, "path": url.path, "kind": "other",
            "authorization": self.headers.get("Authorization") is not None, "queryToken": "token" in query,
            "range": self.headers.get("Range"), "status": 0, "bytes": 0, "start": time.time(),
        }
        self.head = head
        try:
            config = load_config()
            if self.record["address"] == args.cdn_host:
                self.cdn(url, query, config)
            else:
                self.hub(url, query, config)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as error:
            self.record["error"] = type(error).__name__
            self.close_connection = True
        finally:
            self.record["end"] = time.time()
            write_log(self.record)

    def reply(self, code, headers=(), body=b"", content_type=None):
        self.record["status"] = code
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not self.head:
            self.wfile.write(body)
            self.record["bytes"] = len(body)

    def token(self, query=None):
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            return auth[len("Bearer "):]
        return (query or {}).get("token")

    # ------------------------------------------------------------------ the Hub and CivitAI's API host

    def hub(self, url, query, config):
        path = url.path
        if path.startswith("/api/v1/model-versions/") or path.startswith("/api/download/models/"):
            self.record["kind"] = "civitai-api" if path.startswith("/api/v1/") else "civitai-download"
            if self.fault(config):
                return
            return self.civitai(path, query, config)
        parts = path.split("/")
        # ["", owner, repo, "resolve", rev, *file] or ["", "datasets", owner, repo, "resolve", rev, *file]
        offset = 1 if len(parts) > 1 and parts[1] == "datasets" else 0
        if len(parts) < 6 + offset or parts[3 + offset] != "resolve":
            return self.reply(404, body=b"Not Found", content_type="text/plain")
        self.record["kind"] = "hf"
        if self.fault(config):
            return
        repo_id = "/".join(parts[1:3 + offset])
        rev = unquote(parts[4 + offset])
        file_path = unquote("/".join(parts[5 + offset:]))
        self.resolve(repo_id, rev, file_path, url, config)

    def fault(self, config):
        """H6: the rate limit and outage knobs, for resolver requests."""
        faults = config.get("faults") or {}
        limit = faults.get("rateLimit")
        if take(limit, config):
            headers = []
            if limit.get("t") is not None:
                headers.append(("RateLimit", f'"api";r=0;t={int(limit["t"])}'))
            if limit.get("retryAfter") is not None:
                headers.append(("Retry-After", str(int(limit["retryAfter"]))))
            body = json.dumps({"error": "You have exceeded our rate limit for this resource (stand-in)."})
            self.reply(429, headers, body.encode(), "application/json")
            return True
        down = faults.get("unavailable")
        if take(down, config):
            headers = [("Retry-After", str(int(down["retryAfter"])))] if down.get("retryAfter") is not None else []
            self.reply(503, headers, b"Service Unavailable (stand-in)", "text/plain")
            return True
        return False

    def hub_error(self, code, error_code, message):
        self.reply(code, [("X-Error-Code", error_code), ("X-Error-Message", message)],
                   json.dumps({"error": message}).encode(), "application/json")

    def resolve(self, repo_id, rev, file_path, url, config):
        renamed = (config.get("renamed") or {}).get(repo_id)
        if renamed:
            # H4: relative, so that a client following only relative redirects still finds the repo.
            target = url.path.replace("/" + repo_id + "/", "/" + renamed + "/", 1)
            return self.reply(307, [("Location", target + (("?" + url.query) if url.query else ""))],
                              json.dumps({"error": "Repository moved"}).encode(), "application/json")
        repo = (config.get("repos") or {}).get(repo_id)
        token = self.token()
        name = repo_id.removeprefix("datasets/")
        kind = "dataset" if repo_id.startswith("datasets/") else "model"
        allowed = token is not None and token in (repo or {}).get("tokens", [])
        if repo is None or (repo.get("private") and not allowed):
            return self.hub_error(401, "RepoNotFound",
                                  "Repository not found. Check the name, or log in with a token that can read it.")
        if repo.get("gated") and not allowed:
            if token is None:
                return self.hub_error(401, "GatedRepo",
                                      f"Access to {kind} {name} is restricted. You must have access to it and be "
                                      "authenticated to access it. Please log in.")
            endpoint = f"https://{args.hub_host}:{args.port}"
            return self.hub_error(403, "GatedRepo",
                                  f"Access to {kind} {name} is restricted and you are not in the authorized list. "
                                  f"Visit {endpoint}/{repo_id} to ask for access.")
        commits = repo.get("commits") or {}
        commit = (repo.get("revisions") or {}).get(rev, rev)
        if commit not in commits:
            return self.hub_error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        served = commits[commit].get(file_path)
        if served is None or not os.path.isfile(os.path.join(args.root, served)):
            return self.hub_error(404, "EntryNotFound", f"{file_path} does not exist on \"{rev}\"")
        full = os.path.join(args.root, served)
        sha256, blob_sha1, _ = digests(full)
        if file_path in (repo.get("gitStored") or []):
            # H3: small files come from git itself, with their git SHA-1 as the ETag.
            self.record["status"] = 200
            self.send_response(200)
            self.send_header("X-Repo-Commit", commit)
            self.send_header("ETag", f'"{blob_sha1}"')
            return self.send_body(full, config={}, ranged=False)
        cdn = config.get("cdn") or {}
        location = signed_url("cdn", served, int(cdn.get("lifetime", 3600)))
        size = os.path.getsize(full)
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
        pointer_sha1 = hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()
        body = f"Found. Redirecting to {location}".encode()
        self.reply(302, [("Location", location), ("X-Repo-Commit", commit), ("X-Linked-Etag", f'"{sha256}"'),
                         ("X-Linked-Size", str(size)), ("ETag", f'"{pointer_sha1}"'), ("Accept-Ranges", "bytes")],
                   body, "text/plain; charset=utf-8")

    def civitai(self, path, query, config):
        versions = config.get("civitai") or {}
        version_id = path.rsplit("/", 1)[-1]
        version = versions.get(version_id)
        if version is None:
            body = {"error": f"No model version with id {version_id}"}
            return self.reply(404, body=json.dumps(body).encode(), content_type="application/json")
        files = version.get("files") or []
        if path.startswith("/api/v1/"):
            return self.civitai_version(version_id, version, files)
        token = self.token(query)
        if version.get("loginRequired") and token not in (config.get("civitaiTokens") or []):
            body = {"error": "Unauthorized",
                    "message": "The creator of this asset requires you to be logged in to download it"}
            return self.reply(401, body=json.dumps(body).encode(), content_type="application/json")
        if version.get("earlyAccess") and token not in (version.get("tokens") or []):
            body = {"error": "Forbidden", "message": "This asset is in early access and you do not have access "
                                                     "to it yet (stand-in)."}
            return self.reply(403, body=json.dumps(body).encode(), content_type="application/json")
        wanted = query.get("fileId")
        chosen = next((f for f in files if str(f.get("id")) == wanted), None) if wanted else \
            next((f for f in files if f.get("primary")), files[0] if files else None)
        if chosen is None or not os.path.isfile(os.path.join(args.root, chosen["file"])):
            return self.reply(404, body=json.dumps({"error": "File not found"}).encode(),
                              content_type="application/json")
        cdn = config.get("cdn") or {}
        location = signed_url("storage", chosen["file"], int(cdn.get("lifetime", 86400)))
        self.reply(307, [("Location", location)], b"", None)

    def civitai_version(self, version_id, version, files):
        listed = []
        for f in files:
            full = os.path.join(args.root, f["file"])
            sha256, _, crc = digests(full)
            url = f"https://{args.hub_host}:{args.port}/api/download/models/{version_id}"
            if not f.get("primary"):
                url += f"?fileId={f.get('id')}"
            listed.append({"id": f.get("id"), "name": f.get("name", f["file"]), "type": f.get("type", "Model"),
                           "sizeKB": os.path.getsize(full) / 1024,
                           "hashes": {"SHA256": sha256.upper(), "CRC32": crc, "AutoV2": sha256[:10].upper()},
                           "downloadUrl": url, "primary": bool(f.get("primary"))})
        body = {"id": int(version_id) if version_id.isdigit() else version_id,
                "name": version.get("name", "v1"), "files": listed}
        self.reply(200, body=json.dumps(body).encode(), content_type="application/json")

    # ------------------------------------------------------------------ the CDN and storage host

    def cdn(self, url, query, config):
        parts = url.path.split("/")
        if len(parts) != 4 or parts[1] not in ("cdn", "storage"):
            return self.reply(404, body=s3_error("NoSuchKey", "The specified key does not exist."),
                              content_type="application/xml")
        self.record["kind"] = parts[1]
        if self.headers.get("Authorization") is not None:
            # C3: S3-style storage refuses a forwarded token (it takes it for a malformed AWS signature).
            return self.reply(400, body=s3_error("InvalidRequest", "Missing x-amz-content-sha256"),
                              content_type="application/xml")
        try:
            issued, lifetime = int(query["X-Amz-Date"]), int(query["X-Amz-Expires"])
            nonce, signature = query["X-Amz-Nonce"], query["X-Amz-Signature"]
        except (KeyError, ValueError):
            return self.reply(403, body=s3_error("AccessDenied", "Query-string authentication requires the "
                                                                 "Signature, Expires and Credential parameters"),
                              content_type="application/xml")
        if not hmac.compare_digest(sign(url.path, issued, lifetime, nonce), signature):
            return self.reply(403, body=s3_error("SignatureDoesNotMatch", "The request signature we calculated "
                                                                          "does not match the signature you provided."),
                              content_type="application/xml")
        cdn = config.get("cdn") or {}
        with state_lock:
            uses = signature_uses[signature] = signature_uses.get(signature, 0) + 1
        limit = cdn.get("expireAfterRequests")
        # Whole seconds, as X-Amz-Date has them: a URL is good for at least `lifetime` seconds, never less.
        if int(time.time()) > issued + lifetime or (limit is not None and uses > int(limit)):
            return self.reply(int(cdn.get("expiredStatus") or 403),
                              body=s3_error("AccessDenied", "Request has expired"), content_type="application/xml")
        served = unquote(parts[3])
        full = os.path.join(args.root, served)
        if "/" in served or not os.path.isfile(full) or digests(full)[0] != parts[2]:
            return self.reply(404, body=s3_error("NoSuchKey", "The specified key does not exist."),
                              content_type="application/xml")
        self.send_file(full, cdn)

    def send_file(self, full, cdn):
        size = os.path.getsize(full)
        wanted = self.headers.get("Range")
        if wanted and not cdn.get("ignoreRange"):
            span = parse_range(wanted, size)
            if span is None:
                return self.reply(416, [("Content-Range", f"bytes */{size}")],
                                  s3_error("InvalidRange", "The requested range is not satisfiable"),
                                  "application/xml")
            start, end = span
            self.record["status"] = 206
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            return self.send_body(full, cdn, ranged=True, start=start, end=end)
        self.record["status"] = 200
        self.send_response(200)
        self.send_body(full, cdn, ranged=False)

    def send_body(self, full, config, ranged, start=0, end=None):
        """The headers' tail and the body from start to end (inclusive), paced and dropped as the knobs say."""
        size = os.path.getsize(full)
        end = size - 1 if end is None else end
        length = end - start + 1
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if self.head:
            return
        drop = config.get("dropAfterBytes")
        drop_knob = {"dropAfterBytes": drop, "count": config.get("dropCount", 1), "serial": config.get("serial")}
        drop = int(drop) if drop is not None and take(drop_knob, config) else None
        rate = int(config.get("throttle") or 0)
        began = time.monotonic()
        sent = 0
        with open(full, "rb") as f:
            f.seek(start)
            while sent < length:
                chunk = min(length - sent, 256 << 10, max(1024, rate // 20) if rate else 256 << 10)
                if drop is not None:
                    chunk = min(chunk, drop - sent)
                    if chunk <= 0:
                        # C6: no TLS close_notify, as when a network path fails.
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        self.record["dropped"] = True
                        return
                data = f.read(chunk)
                if not data:
                    break
                if rate:
                    # C4: wait until this chunk fits the rate since the response began.
                    ahead = (sent + len(data)) / rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
                self.wfile.write(data)
                sent += len(data)
                self.record["bytes"] = sent


def parse_range(header, size):
    """(start, end) of one `bytes=` range, or None when it cannot be satisfied."""
    spec = header.strip().removeprefix("bytes=").split(",")[0].strip()
    first, _, last = spec.partition("-")
    try:
        if first == "":
            count = int(last)
            if count <= 0:
                return None
            return max(0, size - count), size - 1
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, end


def main():
    global args, book
    parser = argparse.ArgumentParser(description="A stand-in Hugging Face Hub, CDN and CivitAI for tests.")
    for name in ("--root", "--config", "--cert", "--key", "--log", "--port-file", "--busy-file"):
        parser.add_argument(name, required=True)
    parser.add_argument("--hub-host", default="127.0.0.1")
    parser.add_argument("--cdn-host", default="127.0.0.2")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    book = RequestBook(args.log, args.busy_file)
    args.port = serve((args.hub_host, args.cdn_host), args.port, Handler, args.cert, args.key, book, args.port_file)
    threading.Event().wait()


if __name__ == "__main__":
    main()
