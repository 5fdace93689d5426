"""Resumable generation: an append-only JSONL of finished items beside the final file.

A pipeline processes its items in chunks; after each chunk every finished item is appended (one
JSON line with its ``id``) to ``<name>.partial.jsonl`` and flushed. A rerun after an
interruption reads that file (ignoring a torn last line), skips the finished items and continues;
when every item is done the rows are written in input order to the final file atomically and the
partial file is removed. Together with the request cache (:mod:`.cache`) an interrupted
generation loses at most the chunk in flight, and even that costs no request on rerun.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..io import write_atomic

T = TypeVar("T")
Row = dict[str, Any]


class Progress:
    """Finished rows of one generation, keyed by ``row["id"]``."""

    def __init__(self, final_path: Path, resume: bool = True):
        self.final = Path(final_path)
        self.partial = self.final.with_name(self.final.stem + ".partial.jsonl")
        self.rows: dict[str, Row] = {}
        if resume and self.partial.is_file():
            for line in self.partial.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by the interruption: that item is redone
                self.rows[str(row["id"])] = row
        elif self.partial.exists():
            self.partial.unlink()

    def append(self, rows: Iterable[Row]) -> None:
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        with open(self.partial, "a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                self.rows[str(row["id"])] = row
            fh.flush()
            os.fsync(fh.fileno())

    def finish(self, ids: Sequence[str]) -> list[Row]:
        """Write the rows of ``ids`` (all finished) in that order; drop the partial file."""

        rows = [self.rows[i] for i in ids]
        write_atomic(self.final, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        self.partial.unlink(missing_ok=True)
        return rows


def run_chunked(
    items: Sequence[T],
    ids: Sequence[str],
    work: Callable[[list[T]], list[Row]],
    progress: Progress,
    chunk_size: int,
) -> list[Row]:
    """Apply ``work`` to the unfinished items, ``chunk_size`` at a time, recording each chunk."""
    todo = [(i, it) for i, it in zip(ids, items) if i not in progress.rows]
    for start in range(0, len(todo), max(1, chunk_size)):
        chunk = todo[start : start + chunk_size]
        rows = work([it for _, it in chunk])
        for (i, _), row in zip(chunk, rows):
            row["id"] = i
        progress.append(rows)
    return progress.finish(list(ids))
