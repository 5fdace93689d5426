"""The one exception type for mistakes a user can make (config, data, paths).

The CLI prints these as a single line without a traceback; everything else is a bug.
"""

from __future__ import annotations


class ObliviateError(Exception):
    """A user-facing error whose message names the file, field or key and what is accepted."""


def did_you_mean(name: str, accepted: list[str] | tuple[str, ...]) -> str:
    """Format the accepted values, suggesting the closest one when there is a near match."""
    import difflib

    close = difflib.get_close_matches(name, list(accepted), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"accepted: {', '.join(sorted(accepted))}{hint}"


class Interrupted(KeyboardInterrupt):
    """SIGTERM / SIGINT during training, after the checkpoint was saved (``message`` says where);
    the CLI exits with 128 + ``signum``."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum
        self.message = message
