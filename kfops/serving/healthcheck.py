"""The images' HEALTHCHECK: a container serving a model is healthy when the server is ready.

One image runs pipeline steps, ``kfops serve`` and the operator; only the server has a
readiness endpoint, so a container whose main process is anything else is healthy while
it runs. Standard library only: it runs every 30 s and must start fast.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

DEFAULT_PORT = 8080


def serving_port(argv: list[str]) -> int | None:
    """The port of a ``kfops serve`` command line, or None when it is not one."""
    words = [Path(word).name for word in argv[:2]] + argv[2:]
    if "serve" not in words or not any(word.startswith("kfops") for word in words[:3]):
        return None
    for i, word in enumerate(argv):
        if word == "--port" and i + 1 < len(argv):
            return int(argv[i + 1])
        if word.startswith("--port="):
            return int(word.split("=", 1)[1])
    return DEFAULT_PORT


def check(argv: list[str]) -> int:
    """The exit status Docker reads: 0 healthy, 1 unhealthy, for a main process ``argv``."""
    port = serving_port(argv)
    if port is None:
        return 0
    url = f"http://127.0.0.1:{port}/v2/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


def main() -> int:
    raw = Path("/proc/1/cmdline").read_bytes()
    return check([part.decode() for part in raw.split(b"\0") if part])


if __name__ == "__main__":
    sys.exit(main())
