"""Files: atomic writes (a temp file beside the target, then a rename) and JSON / JSON-lines
reads whose errors name the file and line."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import ObliviateError


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same directory and a
    rename, so an interrupted write never leaves a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def finite(data: Any) -> Any:
    """``data`` with every non-finite float (NaN, ±inf) as None, so it is strict JSON."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def _dumps(data: Any, **kwargs: Any) -> str:
    return json.dumps(finite(data), default=lambda v: finite(float(v)), allow_nan=False, **kwargs)


def write_json(path: Path, data: Any) -> None:
    """Strict JSON, atomically: a non-finite number is written as null (:func:`finite`)."""
    write_atomic(path, _dumps(data, indent=2, sort_keys=False) + "\n")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    write_atomic(path, "".join(_dumps(r) + "\n" for r in rows))


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ObliviateError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ObliviateError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def json_lines(path: Path, text: str | None = None) -> list[tuple[int, Any]]:
    """(line number, value) of every non-blank line of a JSON-lines file (``text``: its content
    when already read); a malformed line is an error naming ``path:line``."""
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ObliviateError(f"{path}: cannot read ({exc.strerror})") from None
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ObliviateError(
                f"{path}:{lineno}: invalid JSON ({exc.msg}, column {exc.colno})"
            ) from None
    return rows
