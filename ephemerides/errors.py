"""The error of bad input: what a caller (or a command-line user) can fix.

Every check of the three packages raises :class:`InputError` — a ``ValueError``, so code that
catches that keeps working — with a message naming the parameter, file, row or column and what
is allowed. Anything else that escapes is a defect: the command line reports it as an internal
error (exit status 1), not as bad input (exit status 2).
"""


class InputError(ValueError):
    """Bad input, with a message naming it and what is allowed."""
