# STAND-IN for ComfyUI-Login's password.py (liusida/ComfyUI-Login 69109257): the same rules, on the stand-in
# server's plain-function API. "L:N" below is a line of the real password.py.
#   - Files (L:15-19): PASSWORD and GUEST_MODE in <dir of folder_paths.py>/login/ (the ComfyUI checkout, not
#     --base-directory); .secret-key.txt in this node's folder. login/ is created at import (L:176-178) and an old
#     <checkout>/PASSWORD is moved into it (L:182-184).
#   - PASSWORD (L:27-44): line 1 the bcrypt hash, compared as raw bytes (a CR before the newline breaks every
#     login); line 2 (optional) the username, shown but never checked. Read once, then cached for the process.
#   - The API token is the hash itself (L:166-174): read at import (text mode, stripped) and logged at INFO as
#     "For direct API calls, use token=<hash>" (so it is also in /internal/logs); while it is empty (no PASSWORD)
#     every guarded request re-reads it, and `?token=` with an empty value matches it.
#   - check_login_status (L:195-243), in this order:
#       1. skipped, whatever the method: request.path (percent-decoded) == "/login" or ending in ".css",
#          ".css.map", ".js", ".ico" (so POST/DELETE /userdata/x.js and .../move/y.js pass without credentials);
#       2. a session with logged_in -> the handler;
#       3. a guest session: any GET -> the handler, POST only to exactly /prompt or /upload/image, anything else
#          -> 200 {} without the handler;
#       4. only when --enable-cors-header is unset, "*", or equal to the Origin header: `Authorization` split on
#          whitespace into exactly two words (else ValueError: 500), "Bearer" + the token; then ?token=;
#       5. else 302 /login when the Accept header contains "text/html", otherwise 401
#          {"error": "Authentication required."}.
#     A handled request to "/" gets Cache-Control: no-cache (L:188-193).
#   - GET /login (L:80-102) form: hidden guest_mode, username (first time or no username line), password.
#     POST /login (L:104-146): no password field -> 500 (also for a guest); guest_mode=1 with GUEST_MODE -> guest
#     session, 302 /; with PASSWORD: bcrypt.checkpw -> logged_in session, 302 /, else 302 /login?wrong_password=1;
#     without PASSWORD the first POST sets it (hash + "\n" + username) and logs in: whoever comes first owns the
#     server (no username field: the file is truncated, then 500: an empty PASSWORD).
#     GET /logout (L:148-156, guarded): {logged_in: false}, 302 /login. GET /guest_mode (L:158-164, guarded).
#   - Session (L:47-78): aiohttp_session's EncryptedCookieStorage, cookie AIOHTTP_SESSION (Path=/, HttpOnly, no
#     Max-Age, no Secure, no SameSite), JSON {"created", "session"}, never expiring server-side; saved only when
#     the session changed, deleted when it is empty, never into a file or websocket response. Its key is in
#     .secret-key.txt ("<urlsafe-b64 of 32 random bytes>,<isoformat time>", written with plain open(): 0666 &
#     ~umask), replaced only at import when older than 30 days; a key file that does not parse fails the import.
#     Here the cookie is HMAC-signed with that key instead of Fernet-encrypted (no cryptography in the test venv).
# The real module's imports first, in its order (the stand-in uses none of the aiohttp ones: it runs on the
# stand-in server's plain-function API; they are here so that a missing one fails the import as for real).
import server
from comfy.cli_args import args
import aiohttp  # noqa: F401
from aiohttp_session import setup  # noqa: F401
from aiohttp_session.cookie_storage import EncryptedCookieStorage  # noqa: F401
from aiohttp import web  # noqa: F401
from jinja2 import Environment, FileSystemLoader, select_autoescape  # noqa: F401
import base64
import os
import folder_paths
import bcrypt
from datetime import datetime, timedelta
import logging

import hashlib
import hmac
import html
import json
import time

from server import HTTPFound, Response, json_response

node_dir = os.path.dirname(__file__)
comfy_dir = os.path.dirname(folder_paths.__file__)
password_path = os.path.join(comfy_dir, "login", "PASSWORD")
guest_mode_path = os.path.join(comfy_dir, "login", "GUEST_MODE")
secret_key_path = os.path.join(node_dir, ".secret-key.txt")
KEY_AGE_LIMIT = timedelta(days=30)
TOKEN = ""
COOKIE_NAME = "AIOHTTP_SESSION"

user_cache = {}


def get_user_data():
    if "username" in user_cache:
        return user_cache["username"], user_cache["password"]
    if os.path.exists(password_path):
        with open(password_path, "rb") as f:
            stored_data = f.read().split(b"\n")
            password = stored_data[0]
            user_cache["password"] = password
            if len(stored_data) > 1 and stored_data[1].strip():
                username = stored_data[1].decode("utf-8").strip()
            else:
                username = None
            user_cache["username"] = username
            return username, password
    return None, None


# ---------------------------------------------------------------- session cookie (aiohttp_session stand-in)

def generate_key():
    return base64.urlsafe_b64encode(os.urandom(32)).decode("utf-8")


def write_key_to_file(key):
    with open(secret_key_path, "w") as file:
        file.write(f"{key},{datetime.now().isoformat()}")


def read_key_from_file():
    try:
        with open(secret_key_path, "r") as file:
            key, timestamp = file.read().split(",")
            return key, datetime.fromisoformat(timestamp)
    except FileNotFoundError:
        return None, None


def key_is_old(timestamp):
    return datetime.now() - timestamp > KEY_AGE_LIMIT


def get_or_refresh_key():
    key, timestamp = read_key_from_file()
    if key is None or timestamp is None or key_is_old(timestamp):
        key = generate_key()
        write_key_to_file(key)
    return key


class Session(dict):
    def __init__(self, data=None, new=True, created=None):
        super().__init__(data or {})
        self.new = new
        self.changed = False
        self.created = int(time.time()) if new or created is None else created

    def __setitem__(self, k, v):
        super().__setitem__(k, v)
        self.changed = True

    def __delitem__(self, k):
        super().__delitem__(k)
        self.changed = True

    def pop(self, k, *default):
        if k in self:  # as MutableMapping.pop: only a key that is there changes the session
            self.changed = True
        return super().pop(k, *default)


def _sign(payload):
    return hmac.new(secret_key.encode("utf-8"), payload.encode("ascii"), hashlib.sha256).hexdigest()


def _load_session(request):
    value = request.cookies.get(COOKIE_NAME)
    if value:
        payload, _, sig = value.rpartition(".")
        if payload and hmac.compare_digest(sig, _sign(payload)):
            try:
                data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                return Session(data.get("session", {}), new=False, created=data.get("created"))
            except Exception:
                pass
        logging.warning("Cannot decrypt cookie value, create a new fresh session")
    return Session()


def _save_session(response, session):
    if not session:  # an empty session deletes the cookie
        response.del_cookie(COOKIE_NAME, path="/")
        return
    data = json.dumps({"created": session.created, "session": dict(session)}, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii").rstrip("=")
    response.set_cookie(COOKIE_NAME, payload + "." + _sign(payload), path="/", httponly=True)


def get_session(request):
    session = getattr(request, "aiohttp_session", None)
    if session is None:
        session = _load_session(request)
        request.aiohttp_session = session
    return session


def session_middleware(request, handler):
    raised = None
    try:
        response = handler(request)
    except server.HTTPException as exc:
        response = raised = exc
    if isinstance(response, (server.FileResponse, server.WebSocketResponse)):
        return response  # not a web.Response: aiohttp_session leaves it alone
    session = getattr(request, "aiohttp_session", None)
    if session is not None and session.changed:
        _save_session(response, session)
    if raised is not None:
        raise raised
    return response


# ---------------------------------------------------------------- routes

prompt_server = server.PromptServer.instance
app = prompt_server.app
routes = prompt_server.routes

secret_key = get_or_refresh_key()
app.middlewares.append(session_middleware)

LOGIN_HTML = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>ComfyUI Login</title></head>
<body>
<div id="feedback">
{feedback}
</div>
<form action="/login" method="post" id="form_login">
<input type="hidden" id="guest_mode" name="guest_mode">
{username_field}
<label>Password:</label><input type="password" id="password" name="password" placeholder="Enter password" required>
<input type="submit" value="Login">
{guest_button}
</form>
</body>
</html>
"""


@routes.get("/login")
def get_login(request):
    session = get_session(request)
    wrong_password = request.query.get("wrong_password", "")
    if session.get("logged_in"):
        raise HTTPFound("/")
    first_time = not os.path.exists(password_path)
    username, _ = get_user_data() if not first_time else (None, None)
    prompt_for_username = username is None and not first_time
    guest_mode = os.path.exists(guest_mode_path)
    feedback = []
    if wrong_password:
        feedback.append("<p>Wrong Password.</p>")
    if prompt_for_username:
        feedback.append("<p>Please also set a username.</p>")
    if first_time:
        feedback.append("<p>Welcome!</p><p>For your first login, please enter a new username and password.</p>")
    else:
        feedback.append(f"<p>Welcome back, {html.escape(str(username))}!</p>")
    username_field = ""
    if first_time or prompt_for_username:
        username_field = ('<label>Username:</label><input type="text" id="username" name="username" '
                          'placeholder="Enter username" required>')
    guest_button = ""
    if guest_mode:
        guest_button = ('<input type="button" value="Guest Mode" onclick="document.getElementById(\'guest_mode\')'
                        '.value=\'1\';document.getElementById(\'form_login\').submit();">')
    return Response(text=LOGIN_HTML.format(feedback="\n".join(feedback), username_field=username_field,
                                           guest_button=guest_button), content_type="text/html")


@routes.post("/login")
def login_handler(request):
    data = request.post()
    username_input = data.get("username")
    password_input = data.get("password").encode("utf-8")  # no password field: AttributeError, 500 (as real)
    guest_mode = data.get("guest_mode") == "1"

    if guest_mode and os.path.exists(guest_mode_path):
        session = get_session(request)
        session["guest_mode"] = True
        return HTTPFound("/")

    if os.path.exists(password_path):
        username_cached, password_cached = get_user_data()
        if password_cached and bcrypt.checkpw(password_input, password_cached):
            session = get_session(request)
            session["logged_in"] = True
            if username_cached:
                session["username"] = username_cached
            else:
                with open(password_path, "wb") as file:
                    file.write(password_cached + b"\n" + username_input.encode("utf-8"))
                user_cache["username"] = username_input
                session["username"] = username_input
            return HTTPFound("/")
        return HTTPFound("/login?wrong_password=1")

    # first visitor: whoever posts first sets the password
    salt = bcrypt.gensalt()
    hashed_password = bcrypt.hashpw(password_input, salt)
    with open(password_path, "wb") as file:
        file.write(hashed_password + b"\n" + username_input.encode("utf-8"))
    user_cache["username"] = username_input
    user_cache["password"] = hashed_password
    session = get_session(request)
    session["logged_in"] = True
    session["username"] = username_input
    return HTTPFound("/")


@routes.get("/logout")
def get_logout(request):
    session = get_session(request)
    session["logged_in"] = False
    session["guest_mode"] = False
    session.pop("username", None)
    session.pop("guest_mode", None)
    return HTTPFound("/login")


@routes.get("/guest_mode")
def get_guest_mode(request):
    session = get_session(request)
    return json_response({"guestMode": bool(session.get("guest_mode"))})


def load_token():
    global TOKEN
    try:
        with open(password_path, "r", encoding="utf-8") as f:
            TOKEN = f.readline().strip()
            logging.info(f"For direct API calls, use token={TOKEN}")
    except FileNotFoundError:
        logging.error("Please set up your password before use. The token will be a hashed string derived from "
                      "your password.")
        TOKEN = ""


if not os.path.exists(os.path.dirname(password_path)):
    logging.info("Password directory does not exists, creating...")
    os.makedirs(os.path.dirname(password_path))

old_password_path = os.path.join(comfy_dir, "PASSWORD")  # backward compatibility: move it into login/
if os.path.exists(old_password_path):
    os.rename(old_password_path, password_path)

load_token()


def process_request(request, handler):
    response = handler(request)
    if request.path == "/":
        response.headers.setdefault("Cache-Control", "no-cache")
    return response


def check_login_status(request, handler):
    path = request.path
    if path == "/login" or path.endswith(".css") or path.endswith(".css.map") or path.endswith(".js") \
            or path.endswith(".ico"):
        return handler(request)

    if TOKEN == "":
        load_token()

    session = get_session(request)
    if session.get("logged_in"):
        return process_request(request, handler)

    if session.get("guest_mode"):
        if request.method == "GET":
            return process_request(request, handler)
        if request.method == "POST" and path in ("/prompt", "/upload/image"):
            return process_request(request, handler)
        return json_response({})

    if args.enable_cors_header is None or args.enable_cors_header == "*" \
            or args.enable_cors_header == request.headers.get("Origin"):
        authorization_header = request.headers.get("Authorization")
        if authorization_header:
            auth_type, token_from_header = authorization_header.split()  # one word: ValueError -> 500
            if auth_type == "Bearer" and token_from_header == TOKEN:
                return process_request(request, handler)
        if request.query.get("token") == TOKEN:
            return process_request(request, handler)

    if "text/html" in request.headers.get("Accept", ""):
        raise HTTPFound("/login")
    return json_response({"error": "Authentication required."}, status=401)


app.middlewares.append(check_login_status)

# L:247-248: the node's old stylesheet (reachable without credentials anyway: it ends in .css)
old_css_path = os.path.join(node_dir, "old_css")
app.router.add_static("/old_css/", old_css_path)

NODE_CLASS_MAPPINGS = {}
