"""Several measurements of one thing (Sample), how figures are written, Markdown tables, and
the results JSON that bench-out/results-*.json holds."""
import statistics


class Sample:
    """Several measurements of one thing."""

    def __init__(self, values=None):
        self.values = list(values or [])

    def add(self, v):
        self.values.append(v)

    @property
    def n(self):
        return len(self.values)

    @property
    def median(self):
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def min(self):
        return min(self.values) if self.values else float("nan")

    @property
    def max(self):
        return max(self.values) if self.values else float("nan")

    def to_json(self):
        return {"median": self.median, "min": self.min, "max": self.max, "n": self.n, "values": self.values}


def fmt_s(seconds):
    """Seconds, to 3 significant figures, in us / ms / s."""
    if seconds != seconds:
        return "-"
    a = abs(seconds)
    if a < 0.9995e-3:
        return f"{seconds * 1e6:.3g} µs"
    if a < 0.9995:
        v = seconds * 1e3
        return f"{v:.3g} ms" if a < 0.1 else f"{v:.0f} ms"
    return f"{seconds:.3g} s" if a < 100 else f"{seconds:.0f} s"


def fmt_signed(seconds):
    return ("+" if seconds >= 0 else "−") + fmt_s(abs(seconds))


def fmt_bytes(n):
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.0f} KiB"
    return f"{n} B"


def fmt_ratio(x):
    if x != x or x in (float("inf"), float("-inf")):
        return "-"
    return f"{x:.3g}×" if x < 100 else f"{x:.0f}×"


def cells(sample, fmt=fmt_s):
    return [fmt(sample.median), fmt(sample.min), fmt(sample.max), str(sample.n)]


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(a, b):
    return a.median / b.median if b.median else float("nan")


def to_jsonable(x):
    if isinstance(x, Sample):
        return x.to_json()
    if isinstance(x, dict):
        return {k: to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    return x


def from_jsonable(x):
    if isinstance(x, dict):
        if set(x) == {"median", "min", "max", "n", "values"}:
            return Sample(x["values"])
        return {k: from_jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [from_jsonable(v) for v in x]
    return x
