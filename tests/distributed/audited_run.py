"""``python audited_run.py AUDIT_DIR obliviate-args...``: the obliviate CLI with an audit hook
that records every file this process creates, writes, renames or deletes under the current
directory's ``runs`` folder, one path per line in ``AUDIT_DIR/rank<RANK>.txt`` (the test reads
which ranks wrote files)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def main() -> int:
    audit_dir, args = Path(sys.argv[1]).resolve(), sys.argv[2:]
    audit_dir.mkdir(parents=True, exist_ok=True)
    rank = os.environ.get("RANK", "0")
    log = open(audit_dir / f"rank{rank}.txt", "a", buffering=1)  # noqa: SIM115
    watched = str(Path(os.environ["OBLIVIATE_AUDIT_ROOT"]).resolve())

    def hook(event: str, hargs: tuple) -> None:
        if event == "open":
            path, mode, flags = hargs
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS
            )
        elif event in ("os.rename", "os.replace"):
            path, writes = f"{hargs[0]} -> {os.path.abspath(os.fspath(hargs[1]))}", True
        elif event in ("os.remove", "os.unlink", "shutil.rmtree", "os.mkdir"):
            path, writes = hargs[0], True
        else:
            return
        if writes and isinstance(path, (str, os.PathLike)):
            full = os.path.abspath(os.fspath(path))
            if full.startswith(watched):
                log.write(f"{event} {full}\n")

    sys.addaudithook(hook)
    from obliviate.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
