"""The write-ups' prose, one message catalogue per language (`en.py`, `ko.py`).

Each catalogue is a dict `MESSAGES` of key -> text (with `str.format` fields where the text
takes values); the templates and views take every sentence from it, so a language is one file.
English is the default and the reference: every other catalogue has exactly its keys.
"""

from __future__ import annotations

from importlib import import_module

LANGUAGES = ("en", "ko")


def catalogue(lang: str) -> dict[str, str]:
    """The messages of `lang` (one of `LANGUAGES`)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (known: {', '.join(LANGUAGES)})")
    return import_module(f"{__name__}.{lang}").MESSAGES


def loss_title(messages: dict[str, str], loss) -> str:
    """The loss's name in the catalogue's language (the registry's English title otherwise)."""
    return messages.get(f"loss_name.{loss.name}", loss.title)


def activation_warning(messages: dict[str, str], act) -> str:
    """The registry's warning about an activation, in the catalogue's language."""
    return messages.get(f"warning.{act.name}", act.warning)
