"""Exceptions raised for the library's status codes.

Every non-zero ``sm_status`` becomes an instance of :class:`Error` (or of the
subclass for that status) carrying the code, the ``sm_strerror()`` text and
the ``sm_last_error()`` message of the failing call.
"""

__all__ = [
    "Error", "InvalidArgumentError", "OutOfMemoryError", "SizeOverflowError",
    "ShapeError", "NonFiniteError", "FileError", "ParseError", "FormatError",
    "VersionError", "DivergedError", "CancelledError", "StateError",
    "OK", "ERR_INVALID_ARG", "ERR_NOMEM", "ERR_OVERFLOW", "ERR_SHAPE",
    "ERR_NONFINITE", "ERR_IO", "ERR_PARSE", "ERR_FORMAT", "ERR_VERSION",
    "ERR_DIVERGED", "ERR_CANCELLED", "ERR_STATE",
]

# enum sm_status (scorematch/error.h); the values never change.
OK = 0
ERR_INVALID_ARG = -1
ERR_NOMEM = -2
ERR_OVERFLOW = -3
ERR_SHAPE = -4
ERR_NONFINITE = -5
ERR_IO = -6
ERR_PARSE = -7
ERR_FORMAT = -8
ERR_VERSION = -9
ERR_DIVERGED = -10
ERR_CANCELLED = -11
ERR_STATE = -12


class Error(Exception):
    """A libscorematch call failed.

    Attributes:
        status:   the ``sm_status`` code (a negative int).
        strerror: ``sm_strerror(status)``, e.g. ``"dimension mismatch"``.
        message:  the ``sm_last_error()`` text naming the function and the
                  argument at fault (or a message from the Python layer).
        function: the C function that failed, or None for a check done in
                  Python before calling C.
    """

    status = None

    def __init__(self, status, strerror, message, function=None):
        self.status = status
        self.strerror = strerror
        self.message = message
        self.function = function
        text = "%s: %s" % (strerror, message) if message else strerror
        super().__init__(text)


class InvalidArgumentError(Error, ValueError):
    """SM_ERR_INVALID_ARG: NULL, zero or out-of-range argument."""


class OutOfMemoryError(Error, MemoryError):
    """SM_ERR_NOMEM: memory allocation failed."""


class SizeOverflowError(Error, OverflowError):
    """SM_ERR_OVERFLOW: a size computation would overflow."""


class ShapeError(Error, ValueError):
    """SM_ERR_SHAPE: dimensions of two objects do not match."""


class NonFiniteError(Error, ValueError):
    """SM_ERR_NONFINITE: NaN or infinity in input data or parameters."""


class FileError(Error):
    """SM_ERR_IO: a file could not be opened, read or written."""


class ParseError(Error, ValueError):
    """SM_ERR_PARSE: malformed text input (CSV)."""


class FormatError(Error, ValueError):
    """SM_ERR_FORMAT: malformed, truncated or corrupted binary data."""


class VersionError(Error):
    """SM_ERR_VERSION: unsupported format or options version."""


class DivergedError(Error, ArithmeticError):
    """SM_ERR_DIVERGED: training or sampling produced non-finite values."""


class CancelledError(Error):
    """SM_ERR_CANCELLED: a callback asked to stop."""


class StateError(Error):
    """SM_ERR_STATE: the object is not in a state that allows the call."""


_BY_STATUS = {
    ERR_INVALID_ARG: InvalidArgumentError,
    ERR_NOMEM: OutOfMemoryError,
    ERR_OVERFLOW: SizeOverflowError,
    ERR_SHAPE: ShapeError,
    ERR_NONFINITE: NonFiniteError,
    ERR_IO: FileError,
    ERR_PARSE: ParseError,
    ERR_FORMAT: FormatError,
    ERR_VERSION: VersionError,
    ERR_DIVERGED: DivergedError,
    ERR_CANCELLED: CancelledError,
    ERR_STATE: StateError,
}

for _status, _cls in _BY_STATUS.items():
    _cls.status = _status
del _status, _cls


def from_status(status, strerror, message, function=None):
    """The exception instance for a status (unknown codes give :class:`Error`)."""
    return _BY_STATUS.get(status, Error)(status, strerror, message, function)
