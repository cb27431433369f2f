"""The command line's own error: bad input or usage, reported as one line with exit status 2."""


class UsageError(Exception):
    """Bad input or usage: reported as one line, exit status 2."""
