"""The check reports' sentences, one message catalogue per language (`en.py`, `ko.py`).

Each catalogue is a dict `MESSAGES` of key -> `str.format` template. A sentence of a report is
a `Text`: a `str` holding its English rendering (what the reports have always printed), that
also keeps its key and fields, so `render(text, lang)` writes it in another language, fields
that are sentences themselves rendered too. A plain `str` (a message from the user's code, a
number) renders as itself. English is the reference: every catalogue has exactly its keys.
"""

from __future__ import annotations

from importlib import import_module

LANGUAGES = ("en", "ko")


def catalogue(lang: str) -> dict[str, str]:
    """The messages of `lang` (one of `LANGUAGES`)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (known: {', '.join(LANGUAGES)})")
    return import_module(f"{__name__}.{lang}").MESSAGES


class Text(str):
    """A catalogue sentence: ``Text("slip.missing", act="relu", l=1)``; its value is the English."""

    key: str
    fields: dict

    def __new__(cls, key: str, /, **fields):
        english = catalogue("en")[key].format(**{k: _joined(v, str) for k, v in fields.items()})
        self = super().__new__(cls, english)
        self.key, self.fields = key, fields
        return self

    def __reduce__(self):  # pickles (and copies) as a Text, not a plain str
        return (_text, (self.key, self.fields))

    def to_wire(self) -> list:
        """[key, {field: str or number or nested [key, fields]}] for JSON."""
        return [self.key, {k: _wire_field(v) for k, v in self.fields.items()}]


def _joined(value, each):
    """A list field (``renamed=[Text(...), ...]``) as one string, its items joined by ', '."""
    if isinstance(value, list):
        return ", ".join(each(v) for v in value)
    return value


def _wire_field(value):
    if isinstance(value, list):
        return ["list", [_wire_field(v) for v in value]]
    if isinstance(value, Text):
        return value.to_wire()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return int(value) if isinstance(value, int) else float(value)


def _text(key, fields):
    return Text(key, **fields)


def from_wire(english: str, data) -> str:
    """The `Text` a worker sent as `Text.to_wire()` next to its English `english`, or
    `english` itself when the data is not a sentence of the catalogue that renders exactly
    that English (the worker is not trusted)."""
    try:
        text = _from_wire(data)
    except Exception:  # noqa: BLE001  # anything malformed: the English stands
        return english
    return text if isinstance(text, Text) and str.__str__(text) == english else english


def _from_wire(data, depth: int = 0):
    if depth > 8:
        raise ValueError("too deep")
    if isinstance(data, (str, int, float)) and not isinstance(data, bool):
        return data
    if isinstance(data, list) and data and data[0] == "list":
        return [_from_wire(v, depth + 1) for v in data[1][:50]]
    key, fields = data
    if not isinstance(key, str) or key not in catalogue("en") or not isinstance(fields, dict):
        raise ValueError("not a sentence")
    return Text(key, **{str(k): _from_wire(v, depth + 1) for k, v in fields.items()})


def render(text, lang: str = "en") -> str:
    """`text` in `lang`: a `Text` from the catalogue, anything else as it is."""
    if lang == "en" or not isinstance(text, Text):
        return str.__str__(text) if isinstance(text, str) else str(text)
    messages = catalogue(lang)
    fields = {k: _joined(v, lambda x: render(x, lang)) if isinstance(v, list)
              else render(v, lang) if isinstance(v, Text) else v for k, v in text.fields.items()}
    return messages[text.key].format(**fields)
