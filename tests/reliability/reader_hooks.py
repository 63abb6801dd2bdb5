"""Test-only readers handed to :class:`orchestration.lib.workers.FilePool` as ``target``.

They run in the worker processes (importable by name there: the spawn start method gives the
workers the parent's ``sys.path``), wrap the real ``process_file`` and misbehave on files whose
name holds a marker.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from unittest import mock

from orchestration.lib.ingest.files import process_file

ABORT = "ABORT"
HANG = "HANG"
HOG = "HOG"
DENIED = "DENIED"


def misbehaving_process_file(path: Path, *args, **kwargs):
    name = path.name
    if ABORT in name:
        os.abort()  # what a Rust allocation failure in calamine does
    if HANG in name:
        time.sleep(3600)
    if HOG in name:
        hog = []
        for _ in range(32):  # up to 2 GiB, 64 MiB at a time (each page touched)
            hog.append(bytearray(64 << 20))
            time.sleep(0.05)
        return len(hog)
    if DENIED in name:
        real_open = Path.open

        def denied(self, *a, **k):
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *a, **k)

        with mock.patch.object(Path, "open", denied):
            return process_file(path, *args, **kwargs)
    return process_file(path, *args, **kwargs)
