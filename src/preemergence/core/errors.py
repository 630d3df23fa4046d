"""The errors that mean bad input: the CLI turns each into one line and exit status 2.

Their messages name the file (and key, row or region) and the problem.
"""


class RegionStoreError(ValueError):
    """Bad input in a region store; the message names the file and the problem."""


class ValidationFailed(Exception):
    """Raised by data.validation.require_valid when a segment table breaks a data-model rule."""
