"""The identity protocol's error vocabulary: one table of codes, mapped both ways.

The service turns an exception into a reply's `code` with `code_of`; the client turns
a reply's code back into the same exception type with `error_for`. Adding an error is
one class here and one entry in `ErrorCode`.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

ErrorCode = Literal[
    "bad_request",
    "invalid_customer_id",
    "invalid_photo",
    "no_face",
    "multiple_faces",
    "low_quality_face",
    "photo_too_large",
    "unavailable",
    "internal",
]
ERROR_CODES: Final[tuple[ErrorCode, ...]] = get_args(ErrorCode)

MAX_CUSTOMER_ID: Final = 128


class IdentityError(Exception):
    """Base of every identity-protocol error; `code` is its wire name."""

    code: ErrorCode = "internal"

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class BadRequestError(IdentityError, ValueError):
    code: ErrorCode = "bad_request"


class InvalidCustomerIdError(IdentityError, ValueError):
    """A customer id that is empty, too long or has control characters."""

    code: ErrorCode = "invalid_customer_id"


class EnrollmentError(IdentityError, ValueError):
    """A photo cannot be enrolled; `code` is the machine-readable reason."""

    code: ErrorCode = "bad_request"


class InvalidPhotoError(EnrollmentError):
    """Not an image the pipeline can read (corrupt, empty, unsupported, too large)."""

    code: ErrorCode = "invalid_photo"


class NoFaceError(EnrollmentError):
    """No face was found in the photo."""

    code: ErrorCode = "no_face"


class MultipleFacesError(EnrollmentError):
    """More than one face was found: whose face to enrol would be a guess."""

    code: ErrorCode = "multiple_faces"

    def __init__(self, message: str, faces: int = 2) -> None:
        super().__init__(message)
        self.faces = faces


class LowQualityFaceError(EnrollmentError):
    """The one face is too small or too uncertain to be a reliable reference."""

    code: ErrorCode = "low_quality_face"


class PhotoTooLargeError(EnrollmentError):
    """The photo is larger than the service (or the bus carrying it) accepts."""

    code: ErrorCode = "photo_too_large"


class IdentityServiceError(IdentityError, RuntimeError):
    """The service failed on its side; `code` says how."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class IdentityServiceUnavailableError(IdentityServiceError):
    """No identity service answered (not running, or too slow), or it cannot reach the
    vision pipeline."""

    def __init__(self, message: str) -> None:
        super().__init__("unavailable", message)


_BY_CODE: Final[dict[ErrorCode, type[IdentityError]]] = {
    error.code: error
    for error in (
        BadRequestError,
        InvalidCustomerIdError,
        InvalidPhotoError,
        NoFaceError,
        MultipleFacesError,
        LowQualityFaceError,
        PhotoTooLargeError,
    )
}


def error_for(code: ErrorCode, message: str) -> IdentityError:
    """The exception a reply's error code stands for."""
    if code == "unavailable":
        return IdentityServiceUnavailableError(message)
    error = _BY_CODE.get(code)
    return error(message) if error is not None else IdentityServiceError(code, message)


def code_of(error: IdentityError) -> ErrorCode:
    return error.code


def check_customer_id(customer_id: str) -> str:
    """`customer_id` itself, or InvalidCustomerIdError."""
    if (
        not customer_id
        or len(customer_id) > MAX_CUSTOMER_ID
        or customer_id != customer_id.strip()
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in customer_id)
    ):
        raise InvalidCustomerIdError(
            f"invalid customer id {customer_id!r}: 1-{MAX_CUSTOMER_ID} characters, no "
            "control characters or surrounding whitespace"
        )
    return customer_id
