"""`python -m gradscribe`: the same as the `gradscribe` console script."""

from .cli import console

console()
