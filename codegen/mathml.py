"""LaTeX of the write-ups as MathML, for the HTML write-up (browsers render MathML Core with no
script).

The HTML write-up prints no mathematics of its own: every formula is the LaTeX string the
LaTeX and Markdown write-ups print (from `latex_printer`), converted here by latex2mathml.
`mathml(tex)` converts one formula; `prose(text)` turns a catalogue sentence (plain text with
inline `$...$` math and `` `code` ``) into HTML.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

from latex2mathml.converter import convert

#: a text-mode argument holding markup characters: latex2mathml copies such text into
#: <mtext> unescaped, so it is refused (the write-ups' LaTeX never has one)
_RAW_TEXT = re.compile(r"\\(?:text|texttt|mathrm|operatorname)\s*\{[^}]*[<>&]")
#: inline math or inline code in a catalogue sentence
_SPANS = re.compile(r"\$([^$]+)\$|`([^`]+)`")


@lru_cache(maxsize=8192)
def mathml(tex: str, block: bool = False) -> str:
    """`tex` (one formula, no dollars) as a `<math>` element; `block` for a displayed one.

    Raises:
        ValueError: `tex` has `<`, `>` or `&` inside a text-mode argument.
    """
    if _RAW_TEXT.search(tex):
        raise ValueError(f"markup characters in the text of a formula: {tex[:80]!r}")
    return convert(tex, display="block" if block else "inline")


def prose(text: str) -> str:
    """A sentence as HTML: its text escaped, `$...$` as inline MathML, `` `x` `` as <code>."""
    out, at = [], 0
    for span in _SPANS.finditer(text):
        out.append(html.escape(text[at:span.start()], quote=False))
        if span.group(1) is not None:
            out.append(mathml(span.group(1)))
        else:
            out.append(f"<code>{html.escape(span.group(2), quote=False)}</code>")
        at = span.end()
    out.append(html.escape(text[at:], quote=False))
    return "".join(out)
