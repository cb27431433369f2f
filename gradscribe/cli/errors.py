"""The command line's own errors, each reported as one line on stderr."""


class UsageError(Exception):
    """Bad input or usage: reported as one line, exit status 2."""


class Refused(Exception):
    """An output that would overwrite a file gradscribe may not overwrite: one line, exit 1."""
