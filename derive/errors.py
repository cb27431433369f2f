"""The error every bad spec raises (kept free of SymPy so the command line starts fast), and
how a message quotes what the user typed: on one line, shortened, control characters escaped."""

from __future__ import annotations

import os


class SpecError(ValueError):
    """A spec that cannot describe a network; the message is one line naming where."""


def show_text(text: str, limit: int = 60) -> str:
    """`text` quoted as Python would (newlines and other control characters escaped), its
    middle cut when longer than `limit` characters."""
    if len(text) > limit:
        keep = max(limit - 3, 2)
        text = text[: keep - keep // 3] + "..." + text[len(text) - keep // 3 :]
    return repr(text)


def show_path(path: str | os.PathLike, limit: int = 160) -> str:
    """A file path for a message: as typed, unless it holds control characters (then quoted);
    its middle cut when longer than `limit` characters."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if len(text) > limit:
        text = text[: limit * 2 // 3] + "..." + text[len(text) - limit // 3 :]
    return text if text.isprintable() else repr(text)


def one_line(message: str) -> str:
    """`message` with its line breaks and other control characters escaped."""
    if message.isprintable():
        return message
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)
