"""The one Jinja2 environment every template is rendered with.

Templates ship inside the wheel as the package `gradscribe.codegen.templates` (the repository's
`templates/` folder) and are found through `importlib.resources`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import jinja2


def _load(name: str) -> str:
    return resources.files(f"{__package__}.templates").joinpath(name).read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    """A strict environment: undefined names raise, blocks leave no stray whitespace."""
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (_load(name), None, lambda: True)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, **view) -> str:
    """Render `template` (a file name in templates/) with the prepared view."""
    return environment().get_template(template).render(**view)
