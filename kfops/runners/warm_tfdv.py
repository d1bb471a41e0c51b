"""The TFDV runtime started while the steps before validate run, not when validate does.

Validate's own cost is mostly TensorFlow's import in the TFDV runtime (about 4 s here,
once bytecode is compiled). ``kfops run`` starts that runtime (a
:class:`kfops.validation.runtime.WarmTFDV`) as soon as a step before validate starts, so
the import overlaps ingest and features; validate then sends its request to it instead
of starting the runtime itself. The request, the worker code and the answer are the
same; only the process that answers was started earlier. A run whose validate is
cached, or comes first, never starts it before; a server that is gone or could not start
leaves validate to start the runtime itself, as before.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from kfops.errors import KfopsError
from kfops.validation.runtime import (
    SERVER_ENV,
    WarmTFDV,
    check_python,
    tfdv_importable,
    tfdv_python,
)

VALIDATE_STEP = "validate"
EARLY_ENV = "KFOPS_WARM_TFDV"  # "0": validate starts the TFDV runtime itself


class EarlyTFDV:
    """For one run: ``$KFOPS_TFDV_SERVER`` set for the steps, the server started by
    :meth:`start_before` and stopped when the run ends."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and os.environ.get(EARLY_ENV, "1") != "0"
        self.folder: Path | None = None
        self.server: WarmTFDV | None = None
        self._started = False
        self._saved: str | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> EarlyTFDV:
        if not self.enabled or tfdv_importable():
            return self  # validate runs TFDV in its own interpreter: nothing to warm
        try:
            check_python(tfdv_python())
        except KfopsError:
            return self  # validate reports the missing runtime itself
        # A short path of its own: a Unix socket's path holds at most 107 bytes.
        self.folder = Path(tempfile.mkdtemp(prefix="kfops-tfdv-"))
        self._saved = os.environ.get(SERVER_ENV)
        os.environ[SERVER_ENV] = str(self.folder / "sock")
        return self

    def start_before(self, step: str, seen: set[str]) -> None:
        """At a step's start: start the server unless validate has already come."""
        if self.folder is None or VALIDATE_STEP in seen:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
            with contextlib.suppress(KfopsError):  # validate starts the runtime itself
                self.server = WarmTFDV(str(self.folder / "sock"))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.folder is None:
            return
        with self._lock:
            server, self._started = self.server, True
        if server is not None:
            server.close()
        if self._saved is None:
            os.environ.pop(SERVER_ENV, None)
        else:
            os.environ[SERVER_ENV] = self._saved
        shutil.rmtree(self.folder, ignore_errors=True)
