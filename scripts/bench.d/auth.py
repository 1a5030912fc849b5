"""ComfyUI-Login's contract through comfy-init (401, bearer token, the /login form) and the token
across a restart; run before the stand-in's sections and in the real ComfyUI's."""
import http.client
import urllib.parse

from common import PASSWORD, log
from procs import stop
from stats import fmt_s
from targets import comfy_init, read_token, start_to_answer


def measure(kit, target, home):
    """ComfyUI-Login's contract through comfy-init, and the token across a restart."""
    log(f"{target.key}: auth checks (401, bearer, /login form, token after a restart)")
    ep = comfy_init(kit, target, home)
    checks = []
    token_before = read_token(home)
    _, proc, port = start_to_answer(target, ep, "auth")
    try:
        checks += http_auth_checks(port, token_before)
    finally:
        stop(proc, ep.stop_signal, target.settle)
    _, proc, port = start_to_answer(target, ep, "auth")
    try:
        after = read_token(home)
        ok = after == token_before and http_get(port, "/system_stats", {"Authorization": "Bearer " + after})[0] == 200
        checks.append(("same token after a restart, and it still opens /system_stats", ok,
                       "unchanged" if after == token_before else "CHANGED"))
    finally:
        dt, code = stop(proc, ep.stop_signal, target.settle)
    checks.append(("SIGTERM stops comfy-init, exit 0", code == 0, f"{fmt_s(dt)}, exit {code}"))
    return checks


def http_get(port, path, headers=None, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Location"), resp.getheader("Set-Cookie")
    finally:
        conn.close()


def http_auth_checks(port, token):
    checks = []
    st, _, _ = http_get(port, "/system_stats")
    checks.append(("GET /system_stats without credentials: 401", st == 401, str(st)))
    st, loc, _ = http_get(port, "/system_stats", {"Accept": "text/html"})
    checks.append(("... from a browser (Accept: text/html): 302 to /login", st == 302 and loc == "/login",
                   f"{st} {loc}"))
    st, _, _ = http_get(port, "/system_stats", {"Authorization": "Bearer " + token})
    checks.append(("GET /system_stats with `Authorization: Bearer <hash>`: 200", st == 200, str(st)))
    st, _, _ = http_get(port, "/system_stats?token=" + urllib.parse.quote(token, safe=""))
    checks.append(("GET /system_stats?token=<hash>: 200", st == 200, str(st)))
    st, _, _ = http_get(port, "/system_stats", {"Authorization": "Bearer " + PASSWORD})
    checks.append(("the raw password as a bearer token: 401", st == 401, str(st)))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = urllib.parse.urlencode({"username": "admin", "password": PASSWORD})
    st, loc, cookie = http_get(port, "/login", form, method="POST", body=body)
    checks.append(("POST /login, right password: 302 to / with a session cookie",
                   st == 302 and loc == "/" and bool(cookie), f"{st} {loc}, cookie {'set' if cookie else 'missing'}"))
    if cookie:
        st, _, _ = http_get(port, "/queue", {"Cookie": cookie.split(";")[0]})
        checks.append(("GET /queue with that cookie: 200", st == 200, str(st)))
    body = urllib.parse.urlencode({"username": "admin", "password": "wrong"})
    st, loc, _ = http_get(port, "/login", form, method="POST", body=body)
    checks.append(("POST /login, wrong password: 302 to /login?wrong_password=1",
                   st == 302 and loc == "/login?wrong_password=1", f"{st} {loc}"))
    return checks
