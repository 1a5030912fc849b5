"""The downloads' section of BENCHMARKS.md (download.py's results), between its markers: `scripts/bench
download` replaces it alone, in place (appended at the end the first time)."""
import contextlib

from stats import cells, fmt_bytes, fmt_ratio, fmt_s, ratio, table

DOWNLOAD_BEGIN = "<!-- download:begin (scripts/bench download writes this section) -->"
DOWNLOAD_END = "<!-- download:end -->"
DOWNLOAD_MARK = "<!-- download:begin"
TOOLS = ("comfy-init", "curl", "aria2c")
NAMES = {"comfy-init": "comfy-init provision (COMFYUI_DOWNLOAD_CONNECTIONS=8, verifies the SHA-256)",
         "curl": "curl, one connection, then sha256sum",
         "aria2c": "aria2c -x8 -s8 --checksum=sha-256=…"}


def rate(size, s):
    """The median download rate, in MB/s."""
    return f"{size / s.median / 1e6:.0f} MB/s" if s.n and s.median else "-"


def render_download(m, mode, runs, d):
    wall, cpu = d["wall"], d["cpu"]
    v = d["versions"]
    ci_aria_wall, ci_curl_wall = ratio(wall["comfy-init"], wall["aria2c"]), ratio(wall["comfy-init"], wall["curl"])
    ci_aria_cpu = ratio(cpu["comfy-init"], cpu["aria2c"])
    speedup = ratio(wall["curl"], wall["comfy-init"])
    out = [DOWNLOAD_BEGIN, "## Downloads (issue 20)", "",
           f"Run on {m['date']} ({m['cpu']}, {m['cores']} cores, {m['ram']}; load average {m['load']}; "
           f"{m['duration']}), `{mode}` mode"
           + (f" with {', '.join(d['overrides'])} set" if d.get("overrides") else "")
           + f", {d['runs']} run{'s' if d['runs'] != 1 else ''} of each, the tools taking turns (the order rotates). "
           f"One file of {fmt_bytes(d['bytes'])} random bytes over HTTPS from {v['nginx']} on 127.0.0.1 "
           f"(`scripts/bench.d/download-nginx.conf`: a self-signed certificate, `limit_rate {d['rate']}` per "
           "connection, as a CDN caps one connection), each tool into an empty folder, every one checking the "
           f"SHA-256: comfy-init ({m['versions'][0][1]}) with a one-line manifest `https://127.0.0.1:PORT/big.bin "
           f"big/big.bin SHA256` and a fresh COMFYUI_HOME, {v['curl']} then `sha256sum`, {v['aria2c']}. "
           "Wall: from the start of the command to its exit; CPU: user + system of the command and the children it "
           "waited for (`os.wait4`), nginx's not counted. `scripts/bench download` measures this section alone "
           "and rewrites only it; COMFY_BENCH_DOWNLOAD_RUNS, COMFY_BENCH_DOWNLOAD_MIB and COMFY_BENCH_DOWNLOAD_RATE "
           "override the runs, the size and the cap.", "",
           table(["target (issue 20)", "measured", ""], [
               ["at least as fast as aria2c (wall, comfy-init / aria2c ≤ 1)", fmt_ratio(ci_aria_wall),
                "met" if ci_aria_wall <= 1 else "**missed**"],
               ["at least 6× curl (wall, curl / comfy-init ≥ 6)", fmt_ratio(speedup),
                "met" if speedup >= 6 else "**missed**"],
               ["no more CPU than aria2c (comfy-init / aria2c ≤ 1)", fmt_ratio(ci_aria_cpu),
                "met" if ci_aria_cpu <= 1 else "**missed**"]]), "",
           table(["download and verify " + fmt_bytes(d["bytes"]), "wall median", "min", "max", "runs", "rate",
                  "CPU median", "CPU min", "CPU max", "comfy-init / this (wall)", "comfy-init / this (CPU)"],
                 [[NAMES[t]] + cells(wall[t]) + [rate(d["bytes"], wall[t])] + cells(cpu[t])[:3]
                  + [fmt_ratio(ratio(wall["comfy-init"], wall[t])), fmt_ratio(ratio(cpu["comfy-init"], cpu[t]))]
                  for t in TOOLS]), "",
           f"Ratios: comfy-init / aria2c {fmt_ratio(ci_aria_wall)} wall, {fmt_ratio(ci_aria_cpu)} CPU; "
           f"comfy-init / curl {fmt_ratio(ci_curl_wall)} wall, {fmt_ratio(ratio(cpu['comfy-init'], cpu['curl']))} "
           f"CPU (medians of this run). Each value in seconds: comfy-init "
           + ", ".join(fmt_s(x) for x in wall["comfy-init"].values) + "; aria2c "
           + ", ".join(fmt_s(x) for x in wall["aria2c"].values) + "; curl "
           + ", ".join(fmt_s(x) for x in wall["curl"].values) + ".",
           DOWNLOAD_END]
    return "\n".join(out)


def keep_download_section(path):
    """The downloads' section of an earlier BENCHMARKS.md, kept when this run did not measure it."""
    with contextlib.suppress(OSError):
        text = open(path).read()
        if DOWNLOAD_MARK in text and DOWNLOAD_END in text:
            return text[text.index(DOWNLOAD_MARK):text.index(DOWNLOAD_END) + len(DOWNLOAD_END)]
    return None


def replace_download_section(path, section):
    """`scripts/bench download`: the section replaced in place (appended the first time); every other line
    of the file stays as it is."""
    text = ""
    with contextlib.suppress(OSError):
        text = open(path).read()
    if DOWNLOAD_MARK in text and DOWNLOAD_END in text:
        text = text[:text.index(DOWNLOAD_MARK)] + section + text[text.index(DOWNLOAD_END) + len(DOWNLOAD_END):]
    else:
        text = (text.rstrip() or "# Benchmarks") + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)
    print(section)

