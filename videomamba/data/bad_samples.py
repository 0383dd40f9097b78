"""Bookkeeping of bad samples that works across DataLoader worker processes.

A worker process holds its own copy of the dataset, so a list appended in a worker is invisible to the
training loop. Every event is therefore (1) logged at WARNING on the ``videomamba.data`` logger with the
path and the reason, and (2) appended as one line to ``{directory}/{kind}-{pid}.tsv``, a small file per
process (no interleaving). Reading ``registry.read(kind)`` in the main process aggregates all processes.
The directory is a fresh temporary folder unless given; it is removed when the process that created it
exits.
"""
from __future__ import annotations

import glob
import logging
import os
import shutil
import tempfile
import weakref

logger = logging.getLogger("videomamba.data")


def _remove_if_owner(directory: str, owner_pid: int) -> None:
    if os.getpid() == owner_pid:
        shutil.rmtree(directory, ignore_errors=True)


class BadSampleRegistry:
    """Append-only cross-process record of ``(field1, field2, ...)`` string tuples per ``kind``."""

    def __init__(self, directory: str | None = None):
        if directory is None:
            directory = tempfile.mkdtemp(prefix="videomamba_bad_samples_")
            weakref.finalize(self, _remove_if_owner, directory, os.getpid())
        os.makedirs(directory, exist_ok=True)
        self.directory = directory

    def add(self, kind: str, *fields) -> None:
        line = "\t".join(str(f).replace("\t", " ").replace("\n", " ") for f in fields)
        with open(os.path.join(self.directory, f"{kind}-{os.getpid()}.tsv"), "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def read(self, kind: str) -> list[tuple[str, ...]]:
        rows = []
        for file in sorted(glob.glob(os.path.join(self.directory, f"{kind}-*.tsv"))):
            with open(file, encoding="utf-8") as f:
                rows.extend(tuple(line.rstrip("\n").split("\t")) for line in f if line.strip())
        return rows

    def clear(self) -> None:
        for file in glob.glob(os.path.join(self.directory, "*.tsv")):
            os.remove(file)
