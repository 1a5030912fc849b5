# STAND-IN for ComfyUI-Login's password.py: the same rules, on the stand-in server's plain-function API.
#   - PASSWORD lives in <dir of folder_paths.py>/login/PASSWORD (not under --base-directory).
#     Line 1: bcrypt hash, compared as raw bytes (a CR before the newline breaks every login);
#     line 2 (optional): username, which the real node shows but never checks.
#   - The API token is the hash itself: read once at import (text mode, stripped); while it is empty
#     (no PASSWORD yet) every request re-reads it. `Authorization: Bearer <hash>` or `?token=<hash>`
#     open the API, only when --enable-cors-header is unset, '*', or equal to the request's Origin.
#     A one-word Authorization header raises (500). With no PASSWORD, `?token=` (empty) matches too.
#   - Otherwise: 401 {"error": "Authentication required."}, or 302 /login when Accept has text/html.
#     Exempt: /login and paths ending in .js, .css, .css.map, .ico.
#   - POST /login: with no PASSWORD the first POST sets it (hash + "\n" + username) and logs in:
#     whoever comes first owns the server. Otherwise bcrypt.checkpw -> 302 / with a session cookie,
#     or 302 /login?wrong_password=1.
#   - login/GUEST_MODE enables a guest login (GET anything, POST only /prompt and /upload/image).
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
    def __init__(self, data=None, new=True):
        super().__init__(data or {})
        self.new = new
        self.changed = False

    def __setitem__(self, k, v):
        super().__setitem__(k, v)
        self.changed = True

    def pop(self, k, *default):
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
                return Session(data.get("session", {}), new=False)
            except Exception:
                pass
        logging.warning("Cannot decrypt cookie value, create a new fresh session")
    return Session()


def _save_session(response, session):
    data = json.dumps({"created": int(time.time()), "session": dict(session)}, separators=(",", ":"))
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

NODE_CLASS_MAPPINGS = {}
