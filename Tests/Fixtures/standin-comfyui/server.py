# Stand-in for ComfyUI's server.py (aiohttp there, http.server here).
# Custom nodes use it the way they use the real one:
#     import server
#     routes = server.PromptServer.instance.routes          # @routes.get("/x") / @routes.post("/x")
#     server.PromptServer.instance.app.middlewares.append(mw)  # also .middlewares
# Handlers are plain functions handler(request) -> Response; middlewares are mw(request, handler) -> Response,
# the first in the list outermost, as in aiohttp. Raising an HTTPException (HTTPFound, ...) answers with it.
# /ws is a real RFC 6455 websocket (text frames out, masked frames in, ping, close) that goes through the
# middlewares like any route; /prompt, /queue, /history, /view, /interrupt run prompts on the stand-in's
# nodes through execution.py. docs/comfyui-api.md has the real server's answers this copies.
# Also as the real v0.8.0: the /userdata, /v2/userdata and /users routes of app/user_manager.py (with their
# path rules and status codes) and the /internal routes (internal_routes.py: the log buffer), a sub-app there,
# so not copied under /api; routes are matched as aiohttp >= 3.10 matches them (Request.path_safe).
import base64
import errno
import hashlib
import http.server
import ipaddress
import json
import logging
import mimetypes
import os
import re
import shutil
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from email.parser import BytesParser
from http.cookies import SimpleCookie

import app.logger
import execution
import folder_paths
import nodes
from comfy.cli_args import args
from comfyui_version import __version__
from app.user_manager import UserManager

_REASONS = {code: phrase for code, (phrase, _) in http.server.BaseHTTPRequestHandler.responses.items()}


# ---------------------------------------------------------------- requests and responses

def _path_safe(raw_path):
    """yarl's URL.path_safe: percent-decoded except %2F and %25, which stay encoded (upper case)."""
    pieces = re.split(r"(%2[fF]|%25)", raw_path)
    return "".join(p.upper() if i % 2 else urllib.parse.unquote(p) for i, p in enumerate(pieces))


def _unquote_path_safe(value):
    """aiohttp's web_urldispatcher._unquote_path_safe: what a {name} in a route gets from path_safe."""
    return value.replace("%2F", "/").replace("%25", "%")


class Request:
    def __init__(self, method, raw_path, headers, body=b"", remote=None, app=None):
        split = urllib.parse.urlsplit(raw_path)
        self.method = method.upper()
        self.raw_path = raw_path
        self.path = urllib.parse.unquote(split.path)  # aiohttp's request.path: fully decoded
        self.path_safe = _path_safe(split.path)  # what aiohttp's router matches (yarl's URL.path_safe)
        self.query_string = split.query
        self.query = {}
        for k, v in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
            self.query.setdefault(k, v)  # the first value wins, like aiohttp's MultiDict.get
        self.headers = headers  # case-insensitive .get()
        self.body = body
        self.remote = remote
        self.app = app
        self.match_info = {}
        self.cookies = {}
        jar = SimpleCookie()
        try:
            jar.load(headers.get("Cookie", "") or "")
        except Exception:
            pass
        for k, morsel in jar.items():
            self.cookies[k] = morsel.value
        self._form = None

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def post(self):
        """Form fields of an urlencoded or multipart body (first value wins)."""
        if self._form is None:
            form = {}
            ctype = self.headers.get("Content-Type") or ""
            if self.content_type == "multipart/form-data":
                msg = BytesParser().parsebytes(b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + self.body)
                for part in msg.get_payload() if msg.is_multipart() else []:
                    name = part.get_param("name", header="content-disposition")
                    if name is not None and name not in form:
                        payload = part.get_payload(decode=True) or b""
                        form[name] = payload if part.get_filename() else payload.decode("utf-8", "replace")
            elif self.content_type in ("application/x-www-form-urlencoded", ""):
                for k, v in urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True):
                    form.setdefault(k, v)
            self._form = form
        return self._form


class Response:
    def __init__(self, body=None, status=200, text=None, content_type=None, headers=None, charset=None):
        self.status = status
        self.reason = _REASONS.get(status, "")
        self.headers = dict(headers or {})
        self.cookies = []  # full Set-Cookie values
        if text is not None:
            body = text.encode(charset or "utf-8")
            content_type = content_type or "text/plain"
            charset = charset or "utf-8"
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode(charset or "utf-8")
        self.body = body
        if content_type:
            self.headers.setdefault("Content-Type", content_type + (f"; charset={charset}" if charset else ""))
        elif body:
            self.headers.setdefault("Content-Type", "application/octet-stream")

    def set_cookie(self, name, value, path="/", httponly=True, max_age=None):
        cookie = f"{name}={value}"
        if httponly:
            cookie += "; HttpOnly"
        if max_age is not None:
            cookie += f"; Max-Age={max_age}"
        cookie += f"; Path={path}"
        self.cookies.append(cookie)

    def del_cookie(self, name, path="/"):
        self.cookies.append(f'{name}=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path={path}')


def json_response(data, status=200, headers=None):
    return Response(body=json.dumps(data).encode("utf-8"), status=status, headers=headers,
                    content_type="application/json", charset="utf-8")


class FileResponse(Response):
    """aiohttp's web.FileResponse, without ranges or ETags: the file's bytes, Content-Type from its name; a path
    that is not a regular file -> 403, a missing one -> 404. (Not a web.Response for aiohttp_session: no cookie.)"""

    def __init__(self, path, status=200, headers=None):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            super().__init__(status=404, text="404: Not Found")
            return
        except PermissionError:
            super().__init__(status=403, text="403: Forbidden")
            return
        if not os.path.isfile(path):
            super().__init__(status=403, text="403: Forbidden")
            return
        with open(path, "rb") as f:
            body = f.read()
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        super().__init__(body=body, status=status, headers=headers)
        self.headers["Content-Type"] = content_type
        self.headers["Last-Modified"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(st.st_mtime))
        self.headers["Accept-Ranges"] = "bytes"


class HTTPException(Response, Exception):
    status_code = 500

    def __init__(self, text=None, headers=None, content_type=None):
        Exception.__init__(self)
        status = self.status_code
        if text is None and content_type is None:
            text = f"{status}: {_REASONS.get(status, '')}"
        Response.__init__(self, status=status, text=text, headers=headers, content_type=content_type)


class HTTPFound(HTTPException):
    status_code = 302

    def __init__(self, location, **kw):
        super().__init__(**kw)
        self.headers["Location"] = str(location)
        self.location = str(location)


class HTTPBadRequest(HTTPException):
    status_code = 400


class HTTPUnauthorized(HTTPException):
    status_code = 401


class HTTPForbidden(HTTPException):
    status_code = 403


class HTTPNotFound(HTTPException):
    status_code = 404


class HTTPMethodNotAllowed(HTTPException):
    status_code = 405

    def __init__(self, method, allowed_methods, **kw):
        super().__init__(**kw)
        self.headers["Allow"] = ",".join(sorted(allowed_methods))


class HTTPInternalServerError(HTTPException):
    status_code = 500


class WebSocketResponse(Response):
    """What the /ws handler returns once the request asks for an upgrade: the HTTP layer answers 101 and
    hands the connection to PromptServer.serve_websocket (aiohttp's ws.prepare(request))."""

    def __init__(self, sid, key):
        super().__init__(status=101)
        self.sid = sid
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.headers.update({"Upgrade": "websocket", "Connection": "upgrade", "Sec-WebSocket-Accept": accept.decode()})


class _WebSocket:
    """The server side of one websocket: frames out under a lock (the worker thread sends too)."""

    def __init__(self, sock, rfile):
        self.sock = sock
        self.rfile = rfile
        self.lock = threading.Lock()
        self.closed = False

    def send_frame(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack(">BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
        with self.lock:
            if self.closed:
                return
            try:
                self.sock.sendall(head + payload)
            except OSError:
                self.closed = True

    def send_json(self, message):
        self.send_frame(0x1, json.dumps(message).encode("utf-8"))

    def read_frame(self):
        """(opcode, payload) of the next client frame; raises EOFError at the end, ValueError if unmasked."""
        def exact(n):
            data = self.rfile.read(n)
            if len(data) < n:
                raise EOFError
            return data
        b0, b1 = exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", exact(8))[0]
        if not b1 & 0x80:
            raise ValueError("client frames must be masked (RFC 6455 5.1)")
        mask = exact(4)
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(exact(n)))
        return b0 & 0x0F, payload


# ---------------------------------------------------------------- routing

class RouteDef:
    def __init__(self, method, path, handler):
        self.method = method.upper()
        self.path = path
        self.handler = handler


class StaticDef:
    def __init__(self, prefix, directory):
        self.prefix = "/" + prefix.strip("/")
        self.directory = directory


class RouteTableDef(list):
    def route(self, method, path):
        def register(handler):
            self.append(RouteDef(method, path, handler))
            return handler
        return register

    def get(self, path, **_):
        return self.route("GET", path)

    def post(self, path, **_):
        return self.route("POST", path)

    def put(self, path, **_):
        return self.route("PUT", path)

    def patch(self, path, **_):
        return self.route("PATCH", path)

    def delete(self, path, **_):
        return self.route("DELETE", path)

    def static(self, prefix, path, **_):
        self.append(StaticDef(prefix, path))


def _compile(path):
    out, pos = "", 0
    for m in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]+))?\}", path):
        out += re.escape(path[pos:m.start()]) + f"(?P<{m.group(1)}>{m.group(2) or '[^{}/]+'})"
        pos = m.end()
    return re.compile("^" + out + re.escape(path[pos:]) + "$")


class Router:
    def __init__(self):
        self._routes = []  # (method, regex, handler)

    def add_route(self, method, path, handler):
        self._routes.append((method.upper(), _compile(path), handler))

    def add_get(self, path, handler, **_):
        self.add_route("GET", path, handler)

    def add_post(self, path, handler, **_):
        self.add_route("POST", path, handler)

    def add_static(self, prefix, directory, **_):
        prefix = "/" + prefix.strip("/")
        root = os.path.realpath(directory)

        def serve(request):
            rel = request.match_info["filename"]
            full = os.path.realpath(os.path.join(root, rel))
            if not full.startswith(root + os.sep) or not os.path.isfile(full):
                raise HTTPNotFound()
            with open(full, "rb") as f:
                data = f.read()
            return Response(body=data, content_type=mimetypes.guess_type(full)[0] or "application/octet-stream")

        self.add_route("GET", prefix + "/{filename:.+}", serve)

    def resolve(self, method, path):
        allowed = set()
        for m, rx, handler in self._routes:
            match = rx.match(path)
            if not match:
                continue
            if m == method or (m == "GET" and method == "HEAD") or m == "*":
                return handler, {k: _unquote_path_safe(v) for k, v in match.groupdict().items()}, allowed
            allowed.add(m)
        return None, {}, allowed


class App:
    def __init__(self):
        self.middlewares = []
        self.router = Router()

    def add_routes(self, routes):
        for r in routes:
            if isinstance(r, StaticDef):
                self.router.add_static(r.prefix, r.directory)
            else:
                self.router.add_route(r.method, r.path, r.handler)


# ---------------------------------------------------------------- ComfyUI's own middlewares

_IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def cache_control(request, handler):
    """middleware/cache_middleware.py: Cache-Control for scripts, styles, index*.json and images."""
    response = handler(request)
    name = request.path.rsplit("/", 1)[-1]
    if request.path.endswith(".js") or request.path.endswith(".css") or (
            name.startswith("index") and name.endswith(".json")):
        response.headers.setdefault("Cache-Control", "no-cache")
    elif request.path.lower().endswith(_IMG_EXTENSIONS):
        if response.status == 404:
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        elif response.status in (200, 201, 202, 203, 204, 205, 206, 301, 308):
            response.headers.setdefault("Cache-Control", "public, max-age=86400")
        elif response.status in (302, 303, 307):
            response.headers.setdefault("Cache-Control", "no-cache")
    return response


def create_cors_middleware(allowed_origin):
    def cors_middleware(request, handler):
        if request.method == "OPTIONS":
            response = Response()
        else:
            response = handler(request)
        response.headers["Access-Control-Allow-Origin"] = allowed_origin
        response.headers["Access-Control-Allow-Methods"] = "POST, GET, DELETE, PUT, OPTIONS, PATCH"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
        response.headers["Access-Control-Allow-Credentials"] = "true"
        return response
    return cors_middleware


def is_loopback(host):
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    loopback = False
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            for _, _, _, _, sockaddr in socket.getaddrinfo(host, None, family, socket.SOCK_STREAM):
                if not ipaddress.ip_address(sockaddr[0]).is_loopback:
                    return loopback
                loopback = True
        except socket.gaierror:
            pass
    return loopback


def create_origin_only_middleware():
    # like the real one: a browser page on another origin may not POST to a loopback ComfyUI
    def origin_only_middleware(request, handler):
        host = request.headers.get("Host")
        origin = request.headers.get("Origin")
        if host is not None and origin is not None:
            host_domain = host.lower()
            parsed = urllib.parse.urlparse(origin)
            origin_domain = parsed.netloc.lower()
            host_domain_parsed = urllib.parse.urlsplit("//" + host_domain)
            loopback = is_loopback(host_domain_parsed.hostname)
            if parsed.port is None:
                host_domain = host_domain_parsed.hostname
            if host_domain_parsed.port is None:
                origin_domain = parsed.hostname
            if loopback and host_domain and origin_domain and host_domain != origin_domain:
                logging.warning("WARNING: request with non matching host and origin {} != {}, returning 403"
                                .format(host_domain, origin_domain))
                return Response(status=403)
        if request.method == "OPTIONS":
            return Response()
        return handler(request)
    return origin_only_middleware


# ---------------------------------------------------------------- the server

def _memory():
    total = free = 0
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.split()[1:]}
        total, free = info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    except Exception:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except Exception:
            pass
    return total, free


INDEX_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ComfyUI (stand-in)</title></head>
<body><h1>ComfyUI stand-in</h1><p>Version {version}. This is a test stand-in, not ComfyUI.</p></body></html>
"""


class PromptServer:
    instance = None

    def __init__(self, loop=None):
        PromptServer.instance = self
        mimetypes.init()
        mimetypes.add_type("application/javascript; charset=utf-8", ".js")
        mimetypes.add_type("image/webp", ".webp")
        self.user_manager = UserManager()  # creates the user directory, as the real one
        self.app = App()
        self.middlewares = self.app.middlewares
        self.routes = RouteTableDef()
        self.number = 0
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets = {}
        self.prompt_queue = execution.PromptQueue(self)
        self._servers = []
        self.app.middlewares.append(cache_control)  # first, as the real list (server.py:213)
        if args.enable_cors_header:
            self.app.middlewares.append(create_cors_middleware(args.enable_cors_header))
        else:
            self.app.middlewares.append(create_origin_only_middleware())

        routes = self.routes

        @routes.get("/")
        def get_root(request):
            return Response(text=INDEX_HTML.format(version=__version__), content_type="text/html",
                            headers={"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "0"})

        @routes.get("/ws")
        def websocket_handler(request):
            key = request.headers.get("Sec-WebSocket-Key")
            if (request.headers.get("Upgrade") or "").lower() == "websocket" and key:
                sid = request.query.get("clientId", "") or uuid.uuid4().hex
                return WebSocketResponse(sid, key)
            raise HTTPBadRequest(text='No WebSocket UPGRADE hdr: {}\n Can "Upgrade" only to "WebSocket".'
                                 .format(request.headers.get("Upgrade")))

        @routes.get("/embeddings")
        def get_embeddings(request):
            return json_response([])

        @routes.get("/extensions")
        def get_extensions(request):
            return json_response([])

        @routes.get("/models")
        def list_model_types(request):
            return json_response(list(folder_paths.folder_names_and_paths.keys()))

        @routes.get("/models/{folder}")
        def get_models(request):
            folder = request.match_info.get("folder")
            if folder not in folder_paths.folder_names_and_paths:
                return Response(status=404)
            return json_response(folder_paths.get_filename_list(folder))

        @routes.get("/system_stats")
        def system_stats(request):
            ram_total, ram_free = _memory()
            return json_response({
                "system": {
                    "os": sys.platform,
                    "ram_total": ram_total,
                    "ram_free": ram_free,
                    "comfyui_version": __version__,
                    "python_version": sys.version,
                    "pytorch_version": "standin",
                    "embedded_python": os.path.split(os.path.split(sys.executable)[0])[1] == "python_embeded",
                    "argv": sys.argv,
                },
                "devices": [{
                    "name": "cpu",
                    "type": "cpu",
                    "index": None,
                    "vram_total": ram_total,
                    "vram_free": ram_free,
                    "torch_vram_total": ram_total,
                    "torch_vram_free": ram_free,
                }],
            })

        @routes.get("/prompt")
        def get_prompt(request):
            return json_response(self.get_queue_info())

        def node_info(node_class):
            obj_class = nodes.NODE_CLASS_MAPPINGS[node_class]
            return {"input": obj_class.INPUT_TYPES(),
                    "input_order": {k: list(v) for k, v in obj_class.INPUT_TYPES().items()},
                    "output": list(obj_class.RETURN_TYPES),
                    "output_is_list": [False] * len(obj_class.RETURN_TYPES),
                    "output_name": list(obj_class.RETURN_TYPES),
                    "name": node_class,
                    "display_name": nodes.NODE_DISPLAY_NAME_MAPPINGS.get(node_class, node_class),
                    "description": obj_class.__doc__ or "",
                    "python_module": getattr(obj_class, "RELATIVE_PYTHON_MODULE", "nodes"),
                    "category": getattr(obj_class, "CATEGORY", "sd"),
                    "output_node": getattr(obj_class, "OUTPUT_NODE", False) is True}

        @routes.get("/object_info")
        def get_object_info(request):
            return json_response({x: node_info(x) for x in nodes.NODE_CLASS_MAPPINGS})

        @routes.get("/object_info/{node_class}")
        def get_object_info_node(request):
            node_class = request.match_info.get("node_class", None)
            if node_class is not None and node_class in nodes.NODE_CLASS_MAPPINGS:
                return json_response({node_class: node_info(node_class)})
            return json_response({})

        @routes.get("/history")
        def get_history(request):
            max_items = request.query.get("max_items", None)
            offset = request.query.get("offset", None)
            return json_response(self.prompt_queue.get_history(
                max_items=int(max_items) if max_items is not None else None,
                offset=int(offset) if offset is not None else -1))

        @routes.get("/history/{prompt_id}")
        def get_history_prompt_id(request):
            return json_response(self.prompt_queue.get_history(prompt_id=request.match_info.get("prompt_id")))

        @routes.get("/queue")
        def get_queue(request):
            running, pending = self.prompt_queue.get_current_queue_volatile()
            return json_response({"queue_running": [x[:5] for x in running],
                                  "queue_pending": [x[:5] for x in sorted(pending)]})

        @routes.get("/view")
        def view_image(request):
            # server.py:473-575 of the real one, without the preview/channel re-encoding
            if "filename" in request.query:
                filename = request.query["filename"]
                output_dir = None
                for tag, get_dir in (("[output]", folder_paths.get_output_directory),
                                     ("[input]", folder_paths.get_input_directory),
                                     ("[temp]", folder_paths.get_temp_directory)):
                    if filename.endswith(tag):
                        filename, output_dir = filename[:-(len(tag) + 1)], get_dir()
                        break
                if not filename or filename[0] == "/" or ".." in filename:
                    return Response(status=400)
                if output_dir is None:
                    output_dir = {"output": folder_paths.get_output_directory(),
                                  "temp": folder_paths.get_temp_directory(),
                                  "input": folder_paths.get_input_directory()}.get(request.query.get("type", "output"))
                if output_dir is None:
                    return Response(status=400)
                if "subfolder" in request.query:
                    full_output_dir = os.path.join(output_dir, request.query["subfolder"])
                    if os.path.commonpath((os.path.abspath(full_output_dir), output_dir)) != output_dir:
                        return Response(status=403)
                    output_dir = full_output_dir
                filename = os.path.basename(filename)
                file = os.path.join(output_dir, filename)
                if os.path.isfile(file):
                    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
                    if content_type in {"text/html", "text/html-sandboxed", "application/xhtml+xml",
                                        "text/javascript", "text/css"}:
                        content_type = "application/octet-stream"
                    with open(file, "rb") as f:
                        body = f.read()
                    return Response(body=body, headers={"Content-Disposition": f'filename="{filename}"',
                                                        "Content-Type": content_type})
            return Response(status=404)

        @routes.post("/prompt")
        def post_prompt(request):
            logging.info("got prompt")
            json_data = request.json()  # a body that is not JSON raises: 500, as in the real server
            if "number" in json_data:
                number = float(json_data["number"])
            else:
                number = self.number
                if json_data.get("front"):
                    number = -number
                self.number += 1
            if "prompt" in json_data:
                prompt = json_data["prompt"]
                prompt_id = str(json_data.get("prompt_id", uuid.uuid4()))
                # a prompt that is not an object raises in there: 500, as in the real server
                valid = execution.validate_prompt(prompt_id, prompt, json_data.get("partial_execution_targets"))
                extra_data = dict(json_data.get("extra_data", {}))
                if "client_id" in json_data:
                    extra_data["client_id"] = json_data["client_id"]
                if valid[0]:
                    sensitive = {k: extra_data.pop(k) for k in execution.SENSITIVE_EXTRA_DATA_KEYS if k in extra_data}
                    extra_data["create_time"] = int(time.time() * 1000)
                    self.prompt_queue.put((number, prompt_id, prompt, extra_data, valid[2], sensitive))
                    return json_response({"prompt_id": prompt_id, "number": number, "node_errors": valid[3]})
                logging.warning("invalid prompt: {}".format(valid[1]))
                return json_response({"error": valid[1], "node_errors": valid[3]}, status=400)
            error = {"type": "no_prompt", "message": "No prompt provided", "details": "No prompt provided",
                     "extra_info": {}}
            return json_response({"error": error, "node_errors": {}}, status=400)

        @routes.post("/queue")
        def post_queue(request):
            json_data = request.json()
            if json_data.get("clear"):
                self.prompt_queue.wipe_queue()
            for id_to_delete in json_data.get("delete", []):
                self.prompt_queue.delete_queue_item(lambda a, i=id_to_delete: a[1] == i)
            return Response(status=200)

        @routes.post("/interrupt")
        def post_interrupt(request):
            try:
                json_data = request.json()
            except ValueError:
                json_data = {}
            prompt_id = json_data.get("prompt_id")
            if prompt_id:
                running, _ = self.prompt_queue.get_current_queue_volatile()
                if any(item[1] == prompt_id for item in running):
                    logging.info(f"Interrupting prompt {prompt_id}")
                    nodes.interrupt_processing()
                else:
                    logging.info(f"Prompt {prompt_id} is not currently running, skipping interrupt")
            else:
                logging.info("Global interrupt (no prompt_id specified)")
                nodes.interrupt_processing()
            return Response(status=200)

        @routes.post("/free")
        def post_free(request):
            return Response(status=200)

        @routes.post("/history")
        def post_history(request):
            json_data = request.json()
            if json_data.get("clear"):
                self.prompt_queue.wipe_history()
            for id_to_delete in json_data.get("delete", []):
                self.prompt_queue.delete_history_item(id_to_delete)
            return Response(status=200)

    def internal_routes(self):
        """api_server/routes/internal/internal_routes.py: a sub-app at /internal (the app's middlewares still
        apply to it, as aiohttp's do to a sub-app)."""
        routes = RouteTableDef()

        @routes.get("/internal/logs")
        def get_logs(request):
            return json_response("".join([(entry["t"] + " - " + entry["m"]) for entry in app.logger.get_logs()]))

        @routes.get("/internal/logs/raw")
        def get_raw_logs(request):
            size = shutil.get_terminal_size((80, 24))
            return json_response({"entries": list(app.logger.get_logs()),
                                  "size": {"cols": size.columns, "rows": size.lines}})

        @routes.get("/internal/folder_paths")
        def get_folder_paths(request):
            return json_response({k: v[0] for k, v in folder_paths.folder_names_and_paths.items()})

        @routes.get("/internal/files/{directory_type}")
        def get_files(request):
            directory_type = request.match_info["directory_type"]
            if directory_type not in ("output", "input", "temp"):
                return json_response({"error": "Invalid directory type"}, status=400)
            directory = folder_paths.get_directory_by_type(directory_type)
            entries = [e for e in os.scandir(directory) if e.is_file() and not e.name.startswith(".")]
            return json_response([e.name for e in sorted(entries, key=lambda e: -e.stat().st_mtime)])

        return routes

    def add_routes(self):
        self.user_manager.add_routes(self.routes)
        self.app.add_routes(self.internal_routes())
        # like the real server: every route also under /api (api copies first), then the plain ones
        api_routes = RouteTableDef()
        for route in self.routes:
            if isinstance(route, RouteDef):
                api_routes.route(route.method, "/api" + route.path)(route.handler)
        self.app.add_routes(api_routes)
        self.app.add_routes(self.routes)

    # -------------------------------------------------------------- websocket messages

    def get_queue_info(self):
        return {"exec_info": {"queue_remaining": self.prompt_queue.get_tasks_remaining()}}

    def send_sync(self, event, data, sid=None):
        """To one client's socket, or to every socket when sid is None (the real one queues it on the loop)."""
        message = {"type": event, "data": data}
        if sid is None:
            for ws in list(self.sockets.values()):
                ws.send_json(message)
        elif sid in self.sockets:
            self.sockets[sid].send_json(message)

    def queue_updated(self):
        self.send_sync("status", {"status": self.get_queue_info()})

    def serve_websocket(self, sid, ws):
        # Test knob: the time between the upgrade's answer and the socket's registration, a window the
        # real server (aiohttp: prepare(), then self.sockets[sid] = ws) has too, only shorter.
        time.sleep(float(os.environ.get("STANDIN_WS_REGISTER_DELAY", "0") or 0))
        self.sockets.pop(sid, None)
        self.sockets[sid] = ws
        try:
            ws.send_json({"type": "status", "data": {"status": self.get_queue_info(), "sid": sid}})
            if self.client_id == sid and self.last_node_id is not None:
                ws.send_json({"type": "executing", "data": {"node": self.last_node_id}})
            while True:
                try:
                    opcode, payload = ws.read_frame()
                except ValueError:
                    ws.send_frame(0x8, struct.pack(">H", 1002))
                    break
                if opcode == 0x8:
                    ws.send_frame(0x8, payload[:2])
                    break
                if opcode == 0x9:
                    ws.send_frame(0xA, payload)
        except (EOFError, OSError):
            pass
        finally:
            with ws.lock:
                ws.closed = True
            if self.sockets.get(sid) is ws:
                self.sockets.pop(sid, None)

    # -------------------------------------------------------------- one request

    def handle(self, request):
        request.app = self.app
        handler, match_info, allowed = self.app.router.resolve(request.method, request.path_safe)
        request.match_info = match_info
        if handler is None:
            if allowed:
                def handler(_req, _allowed=allowed):
                    raise HTTPMethodNotAllowed(request.method, _allowed)
            else:
                def handler(_req):
                    raise HTTPNotFound()
        for mw in reversed(self.app.middlewares):
            handler = (lambda m, h: (lambda req: m(req, h)))(mw, handler)
        try:
            response = handler(request)
            if response is None:
                raise RuntimeError("handler returned no response")
            return response
        except HTTPException as exc:
            return exc
        except Exception:
            # aiohttp's web_protocol.handle_error: logged, a plain (or, for a browser, HTML) 500, connection closed
            logging.error("Error handling request\n" + traceback.format_exc())
            title, msg = "500 Internal Server Error", "Server got itself in trouble"
            if "text/html" in (request.headers.get("Accept") or ""):
                return Response(status=500, content_type="text/html", headers={"Connection": "close"},
                                text=f"<html><head><title>{title}</title></head><body>\n<h1>{title}</h1>\n"
                                     f"{msg}\n</body></html>\n")
            return Response(status=500, text=title + "\n\n" + msg, content_type="text/plain",
                            headers={"Connection": "close"})

    # -------------------------------------------------------------- binding and serving

    def start_multi_address(self, addresses, verbose=True):
        """Bind every (address, port); raises OSError like the real server when a bind fails."""
        if verbose:
            logging.info("Starting server\n")
        bound_any = False
        for address, port in addresses:
            try:
                servers = _bind(address, port, self)
            except OSError as e:
                # bare --listen means "0.0.0.0,::": where IPv6 is missing, keep the IPv4 socket
                if address == "::" and bound_any and e.errno in (errno.EADDRINUSE, errno.EAFNOSUPPORT,
                                                                  errno.EADDRNOTAVAIL):
                    logging.warning(f"Could not listen on [::]:{port} ({e.strerror}); IPv4 only")
                    continue
                self.close()
                raise
            self._servers.extend(servers)
            bound_any = True
            if verbose:
                shown = "[{}]".format(address) if ":" in address else address
                logging.info("To see the GUI go to: {}://{}:{}".format("http", shown, port))
        for srv in self._servers:
            threading.Thread(target=srv.serve_forever, name=f"http-{srv.server_address}", daemon=True).start()

    def close(self):
        for srv in self._servers:
            try:
                srv.server_close()
            except Exception:
                pass
        self._servers = []


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Python/3 aiohttp-standin"
    timeout = 120

    def log_message(self, format, *a):  # the real server runs without an access log
        pass

    def _dispatch(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        request = Request(self.command, self.path, self.headers, body, self.client_address)
        response = self.server.prompt_server.handle(request)
        self.send_response(response.status, response.reason or None)
        for k, v in response.headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        for c in response.cookies:
            self.send_header("Set-Cookie", c)
        if response.status not in (101, 204, 304):  # no body and no Content-Length for these, as aiohttp
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.status not in (204, 304):
            self.wfile.write(response.body)
        if isinstance(response, WebSocketResponse) and response.status == 101:
            self.wfile.flush()
            self.close_connection = True
            self.connection.settimeout(None)
            self.server.prompt_server.serve_websocket(response.sid, _WebSocket(self.connection, self.rfile))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        if self.address_family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
            # as asyncio does: an IPv6 socket takes IPv6 only, so "0.0.0.0,::" can share a port
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        socketserver.TCPServer.server_bind(self)  # no getfqdn() lookup
        self.server_name, self.server_port = self.server_address[0], self.server_address[1]


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


def _bind(address, port, prompt_server):
    infos = socket.getaddrinfo(address or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    servers, seen = [], set()
    try:
        for family, _, _, _, sockaddr in infos:
            key = (family, sockaddr[0])
            if key in seen or family not in (socket.AF_INET, socket.AF_INET6):
                continue
            seen.add(key)
            cls = _HTTPServer6 if family == socket.AF_INET6 else _HTTPServer
            try:
                srv = cls(sockaddr[:2] if family == socket.AF_INET else sockaddr, _Handler)
            except OSError as e:
                raise OSError(e.errno, "error while attempting to bind on address %r: %s"
                              % (sockaddr[:2], (e.strerror or str(e)).lower())) from None
            srv.prompt_server = prompt_server
            servers.append(srv)
    except OSError:
        for s in servers:
            s.server_close()
        raise
    return servers
