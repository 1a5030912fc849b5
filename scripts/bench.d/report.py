"""The report: BENCHMARKS.md (a stand-in part, then the real ComfyUI's section and the gate's, each
between markers), its warm-start charts in docs/, and the results JSON in bench-out/ that --render
writes it from. The gate's section is rendered by gate_report.py."""
import contextlib
import json
import os
import shutil
import subprocess

from common import OUT, log
from download_report import DOWNLOAD_MARK, keep_download_section, render_download, replace_download_section
from gate_report import GATE_END, GATE_MARK, render_gate
from stats import Sample, cells, fmt_bytes, fmt_ratio, fmt_s, fmt_signed, from_jsonable, ratio, table, to_jsonable

REAL_BEGIN = "<!-- real-comfyui:begin -->"
REAL_END = "<!-- real-comfyui:end -->"


def save_results(m, mode, runs, results):
    """bench-out/results-KEY.json for each part measured (standin, real)."""
    for key in results:
        with open(os.path.join(OUT, f"results-{key}.json"), "w") as f:
            json.dump(to_jsonable({"machine": m, "mode": mode, "runs": runs, "results": results[key]}), f, indent=1)


def load_results():
    """The parts that earlier runs saved in bench-out/results-*.json (for --render)."""
    parts = {}
    for key in ("standin", "real", "gate", "download"):
        path = os.path.join(OUT, f"results-{key}.json")
        if os.path.exists(path):
            d = from_jsonable(json.load(open(path)))
            parts[key] = (d["machine"], d["mode"], d["runs"], d["results"])
    return parts


def write_report(out, parts):
    """BENCHMARKS.md from the parts measured (a part not measured now is kept from the file as it is)."""
    if "download" in parts:
        replace_download_section(out, render_download(*parts.pop("download")))
        if not parts:
            return
    if set(parts) == {"gate"}:
        replace_gate_section(out, render_gate(*parts["gate"]))
        return
    # The charts go to docs/ beside the report, so a report written elsewhere never replaces the committed ones.
    docs = os.path.join(os.path.dirname(os.path.abspath(out)), "docs")
    os.makedirs(docs, exist_ok=True)
    text = []
    if "standin" in parts:
        m, mode, runs, res = parts["standin"]
        chart = None
        if "warm" in res:
            chart = plot(res["warm"], f"Warm start, stand-in ComfyUI (median of {res['warm']['times']['comfy-init'].n}; "
                                      "whiskers: min-max)", os.path.join(docs, "bench-warm-start.png"))
        text.append(render_standin(res, m, mode, runs, chart and "docs/bench-warm-start.png"))
    else:
        text.append(keep_standin_part(out) or "# Benchmarks\n\n(no stand-in results yet: run scripts/bench)")
    if "real" in parts:
        m, mode, runs, r = parts["real"]
        chart = plot(r["warm"], f"Warm start, real ComfyUI --cpu (median of {r['warm']['times']['comfy-init'].n}; "
                                "whiskers: min-max)", os.path.join(docs, "bench-warm-start-real.png"))
        text.append(render_real(r, m, mode, chart and "docs/bench-warm-start-real.png"))
    else:
        kept = keep_real_section(out)
        if kept:
            text.append(kept)
    gate = render_gate(*parts["gate"]) if "gate" in parts else keep_gate_section(out)
    if gate:
        text.append(gate)
    download = keep_download_section(out)
    if download:
        text.append(download)
    report = "\n\n".join(text) + "\n"
    with open(out, "w") as f:
        f.write(report)
    print(report)


def render_standin(res, m, mode, runs, chart):
    out = ["# Benchmarks", "",
           "Made by `scripts/bench` (see the README's Benchmarks section); every figure is the median of several "
           "runs with min and max, every ratio compares medians measured in the same run, with the variants "
           "interleaved run by run. Stand-in = the fake ComfyUI of `Tests/Fixtures` (starts in a fraction of a "
           "second), so entrypoint overheads are not hidden behind torch's import; the real ComfyUI is reported "
           "separately at the end.", "", render_machine(m, mode, runs), "", "## Targets", "", targets_table(res)]
    if "warm" in res:
        out += ["", "## 1. Warm start (stand-in)", "",
                "Everything installed; process start to the first authenticated answer on the server's port (a "
                "200 for `GET /system_stats` with the bearer token of the home's `login/PASSWORD`; with auth on, "
                "comfy-init's gate listens there at once and the server behind it), polled every 2 ms. "
                "The straight run uses comfy-init's checkout and venv; the bash baseline "
                "(`scripts/bench.d/baseline-entrypoint.sh`) has its own home (checkout, `login/PASSWORD`) and "
                "uses comfy-init's venv through a symlink, so that no entrypoint pays for page-cache misses "
                "on another venv than the one the others just used.", ""]
        if chart:
            out += [f"![warm start]({chart})", ""]
        out += [render_warm(res["warm"], res["overhead"], res.get("tokens"), "stand-in")]
    if "cold" in res:
        out += ["", "## 2. Cold start (stand-in)", "",
                "Empty home to the first authenticated answer: clone (from local git repos), venv, install (from "
                "`.cache/wheels`, no index, no pip cache, a fresh uv cache each run), password hash, serve.", "",
                render_cold(res["cold"])]
    if "docker" in res:
        out += ["", "## 3. `docker stop`", "", render_docker(res["docker"])]
    if "init" in res:
        out += ["", "## 4. The init itself", "", render_init(res["init"])]
    if "health" in res:
        out += ["", "## 5. Health check", "", render_health(res["health"])]
    if "bcrypt" in res:
        out += ["", "## 6. bcrypt", "", render_bcrypt(res["bcrypt"]),
                "", "comfy-init has no verify command; its verify is timed as the auth phase it runs when the "
                "password file exists but `auth.stamp` does not vouch for it (taken from its log, ms resolution)."]
    if "auth" in res:
        out += ["", "## Auth through comfy-init (stand-in login node)", "", render_auth(res["auth"])]
    return "\n".join(out)


def render_real(r, m, mode, chart):
    w = r["warm"]
    t = w["times"]
    diff = t["comfy-init"].median - t["python main.py (straight)"].median
    o = r["overhead"]
    out = [REAL_BEGIN, "## Real ComfyUI", "",
           f"Run on {m['date']} ({m['cpu']}, {m['cores']} cores, {m['ram']}), `{mode}` mode, against "
           f"`../shared/tools/real-comfyui.sh`'s snapshot: ComfyUI `{r['snapshot']}` (tag v0.8.0-snapshot), "
           f"ComfyUI-Login `{r['login']}`, wheels from its local folder, `--cpu`. venv: {fmt_bytes(r['size']['venv'])}. "
           "Warm runs as in section 1 (the baseline shares comfy-init's venv, entrypoints take turns), with 1 s "
           "between the first answer and the stop signal.",
           "", table(["target", "measured", ""], [
               ["warm start within 0.2 s of `python main.py`", fmt_signed(diff), "met" if diff <= 0.2 else
                "**missed**"],
               ["≥ 10× less own time than the bash baseline", fmt_ratio(ratio(o["bash baseline"], o["comfy-init"])),
                "met" if ratio(o["bash baseline"], o["comfy-init"]) >= 10 else "**missed**"],
               ["SIGTERM stops comfy-init in under 1 s with exit 0 (host, each warm run)",
                f"{fmt_s(w['stops']['comfy-init'].median)} (max {fmt_s(w['stops']['comfy-init'].max)}), exit "
                + "/".join(map(str, w["codes"]["comfy-init"])),
                "met" if w["stops"]["comfy-init"].max < 1 and w["codes"]["comfy-init"] == [0] else "**missed**"]]),
           ""]
    notes = []
    if diff > 0.2:
        notes.append(f"The warm-start gap is not comfy-init's own work: that is {fmt_s(o['comfy-init'].median)} "
                     f"(exec to the server's exec, below); the rest is the server's own start varying from run to "
                     f"run (straight: {fmt_s(t['python main.py (straight)'].min)} to "
                     f"{fmt_s(t['python main.py (straight)'].max)}).")
    if w["stops"]["comfy-init"].max >= 1:
        py = w["stops"]["python main.py (straight)"]
        notes.append(f"The stop misses 1 s because ComfyUI itself takes that long to exit after SIGINT: a straight "
                     f"`python main.py` given SIGINT needs {fmt_s(py.median)} (max {fmt_s(py.max)}) too. comfy-init "
                     "adds nothing to it; SIGTERM forwarded as is would be faster but kills ComfyUI without its cleanup "
                     "(below).")
    if notes:
        out += [" ".join(notes), ""]
    if chart:
        out += [f"![warm start, real ComfyUI]({chart})", ""]
    out += [render_warm(w, o, r.get("tokens"), "real ComfyUI"), "",
            "What SIGTERM itself does to the real server (what tini, dumb-init and catatonit forward): "
            f"{fmt_s(r['sigterm']['times'].median)} (min {fmt_s(r['sigterm']['times'].min)}, max "
            f"{fmt_s(r['sigterm']['times'].max)}, {r['sigterm']['times'].n} runs), exit "
            + "/".join(map(str, r["sigterm"]["codes"])) + ": Python dies at once, without ComfyUI's cleanup. "
            "comfy-init's SIGINT lets ComfyUI run its `KeyboardInterrupt` path and exit 0; the time it takes is "
            "ComfyUI's own shutdown (interpreter finalization with torch loaded), the same as a straight "
            "`python main.py` stopped with Ctrl-C above.", "",
            table(["first start, empty home to first authenticated answer (1 run each"
                   + (", from the earlier run that installed the homes" if r.get("cold_reused") else "") + ")",
                   "seconds"], [[n, fmt_s(s) if s else "-"] for n, s in r["cold"].items()]), "",
            render_auth(r["auth"]), "",
            "Not measured on the real ComfyUI: `docker stop` (no image with torch is built here; the stand-in's "
            "figures apply, the init does the same), the init's own figures (independent of the server).",
            REAL_END]
    return "\n".join(out)


def render_machine(m, mode, runs):
    lines = [f"Run on {m['date']}, `{mode}` mode ({', '.join(f'{k} {v}' for k, v in runs.items())} runs).", "",
             table(["machine", ""], [["CPU", m["cpu"]], ["cores", m["cores"]], ["RAM", m["ram"]],
                                     ["kernel", m["kernel"]], ["OS", m["os"]],
                                     ["load average (1 min)", m["load"]], ["bench duration", m["duration"]]] + [list(v) for v in m["versions"]])]
    return "\n".join(lines)


def targets_table(res):
    rows = []
    w, o, d = res.get("warm"), res.get("overhead"), res.get("docker")
    if w:
        t = w["times"]
        diff = t["comfy-init"].median - t["python main.py (straight)"].median
        rows.append(["warm start within 0.2 s of `python main.py`", fmt_signed(diff),
                     "met" if diff <= 0.2 else "**missed**"])
    if o:
        r = ratio(o["bash baseline"], o["comfy-init"])
        rows.append(["≥ 10× less own time than the bash baseline", fmt_ratio(r), "met" if r >= 10 else "**missed**"])
    if w:
        r = ratio(w["times"]["bash baseline"], w["times"]["comfy-init"])
        rows.append(["(warm start, baseline / comfy-init, server start included)", fmt_ratio(r), "-"])
    if d:
        s = d["stops"]["comfy-init (run)"]
        codes = sorted(set(d["codes"]["comfy-init (run)"]))
        rows.append(["`docker stop` under 1 s (comfy-init)", f"{fmt_s(s.median)} (max {fmt_s(s.max)}), exit "
                     + "/".join(map(str, codes)), "met" if s.max < 1 else "**missed**"])
        p = d["stops"]["exec'd Python (no init)"]
        rows.append(["... where the exec'd Python takes about 10 s", f"{fmt_s(p.median)}, exit "
                     + "/".join(map(str, sorted(set(d["codes"]["exec'd Python (no init)"])))),
                     "as expected" if p.median > 9 else "**unexpected**"])
    return table(["target (issue 5)", "measured", ""], rows)


def render_warm(w, overhead, tokens, title):
    t = w["times"]
    floor = t["python main.py (straight)"]
    rows = []
    for name in w["order"]:
        s = t[name]
        rows.append([name] + cells(s) + [fmt_s(s.median - floor.median) if s is not floor else "-",
                                         fmt_ratio(ratio(s, floor))])
    out = [table([f"warm start to first authenticated answer ({title})", "median", "min", "max", "runs", "over the floor",
                  "× floor"], rows)]
    paired = Sample(c - f for c, f in zip(t["comfy-init"].values, floor.values))
    out += ["", f"Paired by round (the entrypoints take turns): comfy-init minus straight, median "
                f"{fmt_s(paired.median)} (min {fmt_s(paired.min)}, max {fmt_s(paired.max)})."]
    ci, bl = overhead["comfy-init"], overhead["bash baseline"]
    out += ["", "Each entrypoint's own time, from its exec to the server's exec (`VENV/bin/python` replaced by "
                "`scripts/bench.d/stamp.c`, which records the clock when called as `python main.py`):", "",
            table(["own time before the server starts", "median", "min", "max", "runs", "× comfy-init"],
                  [["comfy-init"] + cells(ci) + ["1×"],
                   ["bash baseline"] + cells(bl) + [fmt_ratio(ratio(bl, ci))]] +
                  [[n + " (no fsync cost)"] + cells(s) + [fmt_ratio(ratio(s, ci))]
                   for n, s in overhead.items() if "tmpfs" in n])]
    if w["bootstrap"].n:
        b = w["bootstrap"]
        out += ["", f"comfy-init's own log during the warm starts: `bootstrap: done in` median {fmt_s(b.median)} "
                    f"(min {fmt_s(b.min)}, max {fmt_s(b.max)}, {b.n} runs)."]
    stops = w["stops"]
    out += ["", "Stopping those warm runs on the host (not PID 1; comfy-init gets SIGTERM and passes SIGINT on, "
                "the others get SIGINT directly): " + "; ".join(
                    f"{n}: {fmt_s(stops[n].median)} (max {fmt_s(stops[n].max)}), exit {'/'.join(map(str, w['codes'][n]))}"
                    for n in w["order"]) + "."]
    lost = {n: k for n, k in w.get("lost", {}).items() if k}
    if lost:
        out += ["", "**Stop signal lost** (the server still ran 12 s later; Python swallowed the KeyboardInterrupt, "
                    "e.g. in a weakref callback; the script then sent it again, and comfy-init kills after its own "
                    "grace): " + "; ".join(f"{n}: {k} of {w['times'][n].n + 1} stops" for n, k in lost.items()) + "."]
    if tokens:
        out += ["", "Bearer tokens (line 1 of `login/PASSWORD`) seen over 3 restarts: " + "; ".join(
            f"{n}: {k} distinct" for n, k in tokens.items()) + "."]
    return "\n".join(out)


def render_cold(c):
    t = c["times"]
    ref = t["comfy-init (pip)"]
    rows = [[n] + cells(t[n]) + [fmt_ratio(ratio(t[n], ref)),
                                 fmt_s(c["venv_phase"][n].median) if n in c["venv_phase"] and c["venv_phase"][n].n
                                 else "-"]
            for n in c["order"]]
    rows.append(["`python3 -m venv` alone (part of every cold start)"] + cells(c["venv_alone"]) + ["-", "-"])
    return table(["cold start, empty home to first authenticated answer", "median", "min", "max", "runs",
                  "× comfy-init (pip)", "venv phase (log)"], rows)


def render_docker(d):
    py = d["stops"]["exec'd Python (no init)"]
    rows = []
    for n in d["order"]:
        s = d["stops"][n]
        codes = sorted(set(d["codes"][n]))
        rows.append([n] + cells(s) + ["/".join(map(str, codes)), fmt_ratio(ratio(py, s)) if s is not py else "1×",
                                      fmt_s(d["starts"][n].median)])
    return "\n".join([
        f"Image `{d['image']}` (built by the script from `scripts/bench.d/Dockerfile`, FROM comfy-init-base:bookworm "
        "with Debian's python3, tini, dumb-init and catatonit): the same bootstrapped stand-in server behind every "
        "entrypoint, Docker's default 10 s grace.", "",
        table(["`docker stop`", "median", "min", "max", "runs", "exit code", "faster than exec'd Python",
               "`docker run` to first answer"], rows)])


def render_init(r):
    out = []
    ci_size = next(s for s in r["sizes"] if s["name"] == "comfy-init")
    rows = [[s["name"], fmt_bytes(s["bytes"]), "static" if s["static"] else "dynamic (+ libc)",
             "yes" if s["stripped"] else "no", fmt_ratio(s["bytes"] / ci_size["bytes"])] for s in r["sizes"]]
    out += [table(["binary", "size", "linking", "stripped", "× comfy-init"], rows), ""]
    mem = r["memory"]
    rows = []
    for n in r["memory_order"]:
        m = mem[n]
        rows.append([n] + [f"{fmt_bytes(m[k].median)} ({fmt_bytes(m[k].min)} – {fmt_bytes(m[k].max)})"
                           for k in ("rss", "private", "dirty")] + [str(m["rss"].n)])
    out += ["Memory of the init process while it supervises the stand-in server, from `/proc/PID/smaps_rollup`, "
            "median (min – max). Private = Private_Clean + Private_Dirty: pages no other process maps, which for "
            "a static binary includes its own code read from the page cache (clean, reclaimable; this kernel maps "
            "file text in large folios). Private dirty = what the init itself wrote: heap, stack, data.", "",
            table(["init", "resident (RSS)", "private", "private dirty", "runs"], rows), ""]
    se = r["startexit"]
    ci = se["comfy-init version"]
    rows = [[n] + cells(s) + [fmt_ratio(ratio(s, ci))] for n, s in se.items()]
    out += [table(["start + exit (hyperfine -N)", "median", "min", "max", "runs", "× comfy-init"], rows), ""]
    reap = r["reap"]
    rows = []
    for n in r["reap_order"]:
        x = reap[n]
        rows.append([n] + cells(x["seconds"]) + [fmt_s(x["wall"].median), str(min(x["adopted"])) + "–" +
                                                 str(max(x["adopted"])), str(max(x["zombies"]))])
    out += ["Reaping: `Tests/Fixtures/pid1/orphans.py 1000` makes 1000 orphans that the init adopts, releases them "
            "at once and polls /proc (every 5 ms) until all are gone; PID 1 in `unshare --pid --fork --mount-proc`:",
            "", table(["1000 orphans", "all reaped after (median)", "min", "max", "runs", "whole command",
                       "adopted", "zombies left (worst run)"], rows)]
    return "\n".join(out)


def render_health(h):
    ci = h["comfy-init health"]
    rows = [[n] + cells(s) + [fmt_ratio(ratio(s, ci))] for n, s in h.items()]
    return "\n".join([
        "An authenticated `GET /system_stats` against the running stand-in (comfy-init reads the token from "
        "`login/PASSWORD`, so does the Python one-liner; curl gets it on its command line), hyperfine -N:", "",
        table(["health check", "median", "min", "max", "runs", "× comfy-init"], rows)])


def render_bcrypt(b):
    rows = [
        ["comfy-init hash-password --cost 12 (whole process)"] + cells(b["ci_hash"]) +
        [fmt_ratio(ratio(b["ci_hash"], b["py_hash"]))],
        ["Python bcrypt.hashpw, cost 12 (in-process)"] + cells(b["py_hash"]) + ["1×"],
        ["comfy-init verify: auth phase without auth.stamp (bcrypt + stamp write)"] +
        cells(b["ci_verify_phase"]) + [fmt_ratio(ratio(b["ci_verify_phase"], b["py_verify"]))],
        ["Python bcrypt.checkpw (in-process)"] + cells(b["py_verify"]) + [fmt_ratio(ratio(b["py_verify"],
                                                                                           b["py_verify"]))],
        ["comfy-init auth phase on a restart (auth.stamp vouches: no bcrypt)"] + cells(b["ci_stamp_phase"]) +
        [fmt_ratio(ratio(b["ci_stamp_phase"], b["py_verify"]))],
        ["Python process: start, import bcrypt, hash + verify"] + cells(b["py_process"]) + ["-"],
    ]
    return table(["bcrypt, cost 12", "median", "min", "max", "runs", "× Python (same operation)"], rows)


def render_auth(checks):
    return table(["check (through comfy-init)", "result", "seen"],
                 [[c, "pass" if ok else "**FAIL**", seen] for c, ok, seen in checks])


def plot(w, title, path):
    """A bar chart of median warm start (min-max whiskers) for the three entrypoints, with gnuplot."""
    if not shutil.which("gnuplot"):
        log("gnuplot is missing (scripts/setup installs gnuplot-nox): no chart")
        return None
    data = os.path.join(OUT, "chart.dat")
    names = {"python main.py (straight)": "python main.py\\n(straight, the floor)", "comfy-init": "comfy-init",
             "bash baseline": "bash baseline\\n(pip + bcrypt every start)"}
    colors = {"python main.py (straight)": "0x8c8c8c", "comfy-init": "0x2b7bba", "bash baseline": "0xd9534f"}
    with open(data, "w") as f:
        for i, n in enumerate(w["order"]):
            s = w["times"][n]
            f.write(f'{i} {s.median:.6f} {s.min:.6f} {s.max:.6f} {colors[n]} "{names[n]}" "{fmt_s(s.median)}"\n')
    top = max(w["times"][n].max for n in w["order"]) * 1.18
    script = f"""
set terminal pngcairo size 900,540 font 'DejaVu Sans,12'
set output '{path}'
set title "{title}" font 'DejaVu Sans,14'
set ylabel 'seconds to the first authenticated answer'
set style fill solid 0.85 noborder
set boxwidth 0.55
set grid ytics lc rgb '#dddddd'
set border 3
set bmargin 4
set xtics nomirror scale 0
set ytics nomirror
set xrange [-0.6:{len(w['order']) - 0.4}]
set yrange [0:{top:.4f}]
unset key
plot '{data}' using 1:2:5:xticlabels(6) with boxes lc rgb variable, \\
     '' using 1:3:(0):($4-$3) with vectors heads size 0.06,90 lc rgb '#333333' lw 1.5, \\
     '' using 1:4:7 with labels offset 0,1 font 'DejaVu Sans,12'
"""
    r = subprocess.run(["gnuplot"], input=script.encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        log("gnuplot failed: " + r.stdout.decode(errors="replace"))
        return None
    return path


def keep_real_section(path):
    """The real-ComfyUI section of an earlier BENCHMARKS.md, kept when this run did not measure it."""
    with contextlib.suppress(OSError):
        text = open(path).read()
        if REAL_BEGIN in text and REAL_END in text:
            return text[text.index(REAL_BEGIN):text.index(REAL_END) + len(REAL_END)]
    return None


def keep_standin_part(path):
    with contextlib.suppress(OSError):
        text = open(path).read()
        return text.split(REAL_BEGIN)[0].split(GATE_MARK)[0].split(DOWNLOAD_MARK)[0].rstrip()
    return None


def keep_gate_section(path):
    """The gate's section of an earlier BENCHMARKS.md, kept when this run did not measure it."""
    with contextlib.suppress(OSError):
        text = open(path).read()
        if GATE_MARK in text and GATE_END in text:
            return text[text.index(GATE_MARK):text.index(GATE_END) + len(GATE_END)]
    return None


def replace_gate_section(path, section):
    """`scripts/bench gate`: the gate's section replaced in place (placed after the real ComfyUI's
    section the first time); every other line of the file stays as it is."""
    text = ""
    with contextlib.suppress(OSError):
        text = open(path).read()
    if GATE_MARK in text and GATE_END in text:
        text = text[:text.index(GATE_MARK)] + section + text[text.index(GATE_END) + len(GATE_END):]
    elif REAL_END in text:
        at = text.index(REAL_END) + len(REAL_END)
        text = text[:at] + "\n\n" + section + text[at:]
    else:
        text = (text.rstrip() or "# Benchmarks") + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)
    print(section)
