"""The line in a generated file's header that records the sha256 of the file's own body.

`stamp(text)` is the last step of rendering a write-up or a kernel: it adds, right after the
header line that carries the spec's sha256, the line

    Body sha256: <hex> (of this file without this line)

in that header's comment style (`% ` in LaTeX, `<!-- -->` in Markdown, plain inside the
kernel's docstring). `provenance(data)` reads a file back: "generated" when the line is there
and the hash matches the rest of the file, "edited" when the line is there but the rest was
changed, "foreign" when there is no such line. The command line overwrites only "generated"
files (and empty ones) unless told `--force`.
"""

from __future__ import annotations

import hashlib
import re

HEADER_LINES = 12  # the stamp is looked for among a file's first lines only
_STAMP = re.compile(rb"^(?:# |% |<!-- )?Body sha256: ([0-9a-f]{64}) \(of this file without this line\)(?: -->)?$")
_ANCHOR = re.compile(r"spec sha256", re.IGNORECASE)


def stamp(text: str) -> str:
    """`text` with its body-hash line added to its header."""
    lines = text.split("\n")
    at = next(
        (i + 1 for i, line in enumerate(lines[:HEADER_LINES]) if _ANCHOR.search(line)), 0
    )
    anchor = lines[at - 1] if at else lines[0]
    prefix, suffix = _comment_style(anchor, at == 0)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    line = f"{prefix}Body sha256: {digest} (of this file without this line){suffix}"
    return "\n".join(lines[:at] + [line] + lines[at:])


def _comment_style(anchor: str, on_top: bool) -> tuple[str, str]:
    """How the stamp line is written to sit in the same header as `anchor`."""
    stripped = anchor.lstrip()
    if stripped.startswith("<!--"):
        return "<!-- ", " -->"
    if stripped.startswith("%"):
        return "% ", ""
    if stripped.startswith("#") or on_top:  # a Python comment; on top, outside any docstring
        return "# ", ""
    return "", ""  # a line inside the kernel's docstring


def provenance(data: bytes) -> str:
    """'generated', 'edited', 'foreign' or 'empty': what a file's bytes say of their origin."""
    if not data:
        return "empty"
    lines = data.split(b"\n", HEADER_LINES)
    for index, line in enumerate(lines[:HEADER_LINES]):
        found = _STAMP.match(line)
        if found:
            body = b"\n".join(lines[:index] + lines[index + 1 :])
            same = hashlib.sha256(body).hexdigest() == found.group(1).decode()
            return "generated" if same else "edited"
    return "foreign"
