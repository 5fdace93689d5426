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

_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same directory and a
    rename, so an interrupted write never leaves a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 -> what open() would have made
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


# ---- crash windows (fault injection) ------------------------------------------------------
CRASH_ENV = "OBLIVIATE_CRASH_AT"


class SimulatedCrash(BaseException):
    """Raised at a crash point by ``OBLIVIATE_CRASH_AT=<point>:raise`` (in-process tests): a
    BaseException, so no ``except Exception`` on the way up treats it as an error to handle."""


def crash_point(name: str) -> None:
    """A named crash window, for fault-injection tests: ``OBLIVIATE_CRASH_AT=<name>`` sends this
    process SIGKILL here (a real kill: no cleanup runs), ``<name>:stop`` SIGSTOP (the test then
    sends the signal it wants), ``<name>:raise`` raises :class:`SimulatedCrash`. Unset (always, outside tests) it does nothing."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, mode = spec.partition(":")
    if point != name:
        return
    if mode == "raise":
        raise SimulatedCrash(name)
    import signal

    # stop: SIGSTOP, so a test can deliver a real signal (kill -9, SIGTERM) at exactly this point
    os.kill(os.getpid(), signal.SIGSTOP if mode == "stop" else signal.SIGKILL)


# ---- directories replaced atomically -------------------------------------------------------
def replace_dir(out_dir: Path, write: Any) -> None:
    """Make ``out_dir`` anew: ``write(tmp)`` fills a unique temporary directory beside it, the
    old directory is renamed aside (``.<name>.old-<pid>-<random>``), the new one renamed into
    place, and only then is the old one deleted. A crash leaves either the old directory, or no
    ``out_dir`` (between the two renames: the stage record's artifact check then re-runs the
    stage), never a half-written one; leftovers of a crashed replace are removed on the next.

    Unique names (``tempfile.mkdtemp``) keep two writers from sharing a ``<dir>.tmp``."""
    import shutil

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.parent.glob(f".{out_dir.name}.*-*"):  # a crashed replace's leftovers
        if stale.name.startswith((f".{out_dir.name}.tmp-", f".{out_dir.name}.old-")):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-{os.getpid()}-"))
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out_dir.exists():
        old = Path(
            tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-{os.getpid()}-")
        )
        os.replace(out_dir, old / out_dir.name)
        crash_point("replace_dir.moved_aside")
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---- file fingerprints (stage artifacts) ---------------------------------------------------
HASH_CHUNK = 1 << 20  # bytes read per sampled chunk
HASH_FULL_BELOW = 64 << 20  # files up to this size are hashed whole


def fast_hash(path: Path) -> str:
    """A content hash cheap on large files: blake2b (16 bytes) of the size and the whole file
    up to :data:`HASH_FULL_BELOW` bytes; above it, of 64 chunks of 1 MiB evenly spaced from the
    first byte to the last (a re-save with other weights changes every chunk; a model's
    safetensors header, which names every tensor, is always the first chunk)."""
    import hashlib

    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as fh:
        if size <= HASH_FULL_BELOW:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
        else:
            n = 64
            for i in range(n):
                fh.seek((size - HASH_CHUNK) * i // (n - 1))
                digest.update(fh.read(HASH_CHUNK))
    return digest.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    """``{"size", "mtime_ns", "hash"}`` of a file (what a stage record keeps per artifact)."""
    st = Path(path).stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "hash": fast_hash(path)}


def artifact_entries(root: Path, outputs: list[Path]) -> dict[str, dict[str, Any]]:
    """:func:`file_entry` of every file under ``outputs`` (files or directories), keyed by its
    path relative to ``root``."""
    entries: dict[str, dict[str, Any]] = {}
    for out in outputs:
        out = Path(out)
        files = sorted(p for p in out.rglob("*") if p.is_file()) if out.is_dir() else [out]
        for f in files:
            if f.is_file():
                entries[f.relative_to(root).as_posix()] = file_entry(f)
    return entries


def artifact_mismatch(root: Path, entries: dict[str, dict[str, Any]]) -> str | None:
    """Why the recorded ``entries`` no longer describe the files under ``root`` (the first file
    missing, of another size, or of another content when its mtime moved), or None if they do.
    A file whose size and mtime are unchanged is taken as unchanged without reading it."""
    for rel, want in entries.items():
        path = root / rel
        try:
            st = path.stat()
        except OSError:
            return f"{rel} is missing"
        if st.st_size != want.get("size"):
            return f"{rel} changed size ({want.get('size')} -> {st.st_size} bytes)"
        if st.st_mtime_ns != want.get("mtime_ns") and fast_hash(path) != want.get("hash"):
            return f"{rel} changed content"
    return None
