# Stand-in for ComfyUI v0.8.0's app/logger.py, kept as the real one is where it decides buffering:
# sys.stdout and sys.stderr are replaced by a TextIOWrapper over the same binary buffer that copies
# the old stream's line_buffering but NOT its write_through. So under PYTHONUNBUFFERED=1 (which
# comfy-init sets) on a pipe or a terminal, print() output waits in the wrapper until a flush or
# 8 KiB; logging's StreamHandler flushes after every record, so log lines come out at once.
from collections import deque
from datetime import datetime
import io
import logging
import sys
import threading

logs = None
stdout_interceptor = None
stderr_interceptor = None


class LogInterceptor(io.TextIOWrapper):
    def __init__(self, stream, *args, **kwargs):
        buffer = stream.buffer
        encoding = stream.encoding
        super().__init__(buffer, *args, **kwargs, encoding=encoding, line_buffering=stream.line_buffering)
        self._lock = threading.Lock()
        self._flush_callbacks = []
        self._logs_since_flush = []

    def write(self, data):
        entry = {"t": datetime.now().isoformat(), "m": data}
        with self._lock:
            self._logs_since_flush.append(entry)
            if isinstance(data, str) and data.startswith("\r") and not logs[-1]["m"].endswith("\n"):
                logs.pop()
            logs.append(entry)
        super().write(data)

    def flush(self):
        super().flush()
        for cb in self._flush_callbacks:
            cb(self._logs_since_flush)
            self._logs_since_flush = []

    def on_flush(self, callback):
        self._flush_callbacks.append(callback)


def get_logs():
    return logs


def setup_logger(log_level="INFO", capacity=300, use_stdout=False):
    global logs
    if logs:
        return

    logs = deque(maxlen=capacity)

    global stdout_interceptor
    global stderr_interceptor
    stdout_interceptor = sys.stdout = LogInterceptor(sys.stdout)
    stderr_interceptor = sys.stderr = LogInterceptor(sys.stderr)

    logger = logging.getLogger()
    logger.setLevel(log_level)

    stream_handler = logging.StreamHandler()  # the new sys.stderr
    stream_handler.setFormatter(logging.Formatter("%(message)s"))

    if use_stdout:
        # only errors and critical to stderr, the rest to stdout
        stream_handler.addFilter(lambda record: not record.levelno < logging.ERROR)
        stdout_handler = logging.StreamHandler(sys.stdout)
        stdout_handler.setFormatter(logging.Formatter("%(message)s"))
        stdout_handler.addFilter(lambda record: record.levelno < logging.ERROR)
        logger.addHandler(stdout_handler)

    logger.addHandler(stream_handler)
