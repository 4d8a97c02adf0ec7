"""Errors of the API and the notifier. Every message says what is wrong and what to do."""

from __future__ import annotations

from lifeline.exceptions import LifelineError

__all__ = [
    "ApiError",
    "AuthError",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "PayloadTooLargeError",
    "UserInputError",
]


class ApiError(LifelineError):
    """An error answered to a client as JSON ``{"error": code, "message": ...}`` with ``status``."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class AuthError(ApiError):
    """Missing, malformed, unknown or expired credentials (HTTP 401)."""

    status = 401
    code = "unauthorized"


class ForbiddenError(ApiError):
    """Valid credentials, but the role or owner scope does not allow this (HTTP 403)."""

    status = 403
    code = "forbidden"


class NotFoundError(ApiError):
    """The alert, sensor or asset does not exist (HTTP 404)."""

    status = 404
    code = "not_found"


class ConflictError(ApiError):
    """The request contradicts the alert's state, e.g. acknowledging a resolved alert (HTTP 409)."""

    status = 409
    code = "conflict"


class UserInputError(ApiError):
    """A query parameter or body field is invalid (HTTP 400)."""

    status = 400
    code = "bad_request"


class PayloadTooLargeError(ApiError):
    """The request body is larger than ``LIFELINE_API_MAX_BODY_BYTES`` (HTTP 413)."""

    status = 413
    code = "payload_too_large"
