"""The error every parser in eo raises for a value a user (or a file) gave."""

from __future__ import annotations


class InputError(ValueError):
    """A value that cannot be used; the message names the parameter it came in."""
