"""Typed errors of the Drover client.

Every error the client raises on purpose is a :class:`DroverError`; its subclass says what
happened, mirroring the ``error.type`` the API answers with (``api/errors.ts``)::

    class                    HTTP / cause                                   retried
    ValidationError          400, 422: invalid_request, invalid_json, …    no
      PayloadTooLargeError   413: body_too_large, limit_exceeded            no
    AuthenticationError      401: authentication_error                      no
      PermissionDeniedError  403: permission_error (the key lacks a scope)  no
    NotFoundError            404: not_found                                 no
    ConflictError            409: batch_ended, conflict                     no
    RateLimitError           429: quota_exceeded (``retry_after``)          yes
    ServerError              5xx: internal_error, timeout                   yes
    APIConnectionError       no HTTP answer (refused, reset, DNS)           yes
      APITimeoutError        no answer in time                              yes
    DroverResponseError      a 2xx whose body is not what the API promises  no
    WaitTimeoutError         ``wait()`` gave up; ``batch`` is the last state no
    OutputParseError         a succeeded output fails the Pydantic model    (kept on the row)
    ItemFailedError          an item the server could not answer            (kept on the row)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One problem with a request: ``path`` names the field, ``line`` the NDJSON/JSONL/CSV line."""

    path: str
    message: str
    line: int | None = None


class DroverError(Exception):
    """The base of every error the client raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str = "error",
        issues: list[Issue] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The HTTP status, or None when no answer came.
        self.status = status
        #: The API's ``error.type`` (``invalid_request``, ``not_found``, ``batch_ended``, …) or a client-side one.
        self.type = type
        #: Every problem the API listed, with its path (and line).
        self.issues: list[Issue] = issues or []
        #: The ``x-request-id`` the server answered with (one per call, reused across its retries).
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, type={self.type!r}, message={self.message!r})"


class ValidationError(DroverError):
    """400 or 422: the request was refused; ``issues`` lists each problem with its path and line."""


class PayloadTooLargeError(ValidationError):
    """413: over a limit of the deployment (a JSON body too large: send NDJSON or upload a file)."""


class AuthenticationError(DroverError):
    """401 (no key, or an unknown or revoked one), or 403 (:class:`PermissionDeniedError`)."""


class PermissionDeniedError(AuthenticationError):
    """403: the key is valid but lacks the route's scope."""


class NotFoundError(DroverError):
    """404: no such batch, item, file or route for this key's tenant."""


class ConflictError(DroverError):
    """409: the request conflicts with the batch's state, e.g. ``batch_ended``."""


class RateLimitError(DroverError):
    """429: a quota refused the request. ``retry_after`` (seconds) is the server's ``Retry-After``."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(DroverError):
    """5xx: the server failed (retried with backoff before it reaches the caller)."""


class APIConnectionError(DroverError):
    """No HTTP answer at all: the connection was refused, reset or never made."""


class APITimeoutError(APIConnectionError):
    """No answer (or, while streaming, no data) within the client's timeout."""


class DroverResponseError(DroverError):
    """A successful status whose body is not JSON or not the documented shape; ``body`` holds it."""

    def __init__(self, message: str, *, body: Any = None, **kwargs: Any) -> None:
        super().__init__(message, type=kwargs.pop("type", "invalid_response"), **kwargs)
        self.body = body


class WaitTimeoutError(DroverError):
    """``batches.wait()`` reached its timeout before the batch ended; ``batch`` is the last state seen."""

    def __init__(self, message: str, batch: Any) -> None:
        super().__init__(message, type="wait_timeout")
        self.batch = batch


class OutputParseError(DroverError):
    """A succeeded row whose output does not validate against the ``response_model``.

    ``raw_output`` is the output as the server sent it; ``validation_error`` is Pydantic's.
    """

    def __init__(self, item_id: str, raw_output: Any, validation_error: Exception, issues: list[Issue]) -> None:
        shown = "; ".join(f"{i.path}: {i.message}" for i in issues[:5])
        super().__init__(
            f"the output of item {item_id!r} does not match the model: {shown}",
            type="output_parse_failed",
            issues=issues,
        )
        self.item_id = item_id
        self.raw_output = raw_output
        self.validation_error = validation_error


class ItemFailedError(DroverError):
    """An item the server could not answer (its row's ``status`` is ``failed`` or ``cancelled``).

    ``code`` is the server's error code (``invalid_json``, ``schema_invalid``, …); ``raw_output``
    is what the model wrote when its answer failed the schema; ``errors`` the validator's messages.
    """

    def __init__(
        self,
        item_id: str,
        *,
        code: str,
        message: str,
        raw_output: str | None = None,
        errors: list[str] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(f"item {item_id!r} failed: {code}: {message}", type=code)
        self.item_id = item_id
        self.code = code
        self.raw_output = raw_output
        self.errors = errors or []
        self.status_code = status_code


_BY_TYPE: dict[str, type[DroverError]] = {
    "permission_error": PermissionDeniedError,
    "authentication_error": AuthenticationError,
    "body_too_large": PayloadTooLargeError,
    "limit_exceeded": PayloadTooLargeError,
}


def error_for_status(
    status: int,
    message: str,
    *,
    type: str,
    issues: list[Issue] | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> DroverError:
    """The error class for an HTTP error status (and, where it tells more, the API's ``error.type``)."""
    kwargs: dict[str, Any] = {"status": status, "type": type, "issues": issues, "request_id": request_id}
    if status == 429:
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    by_type = _BY_TYPE.get(type)
    if by_type is not None and status in (401, 403, 413):
        return by_type(message, **kwargs)
    if status == 401:
        return AuthenticationError(message, **kwargs)
    if status == 403:
        return PermissionDeniedError(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 409:
        return ConflictError(message, **kwargs)
    if status == 413:
        return PayloadTooLargeError(message, **kwargs)
    if status in (400, 422):
        return ValidationError(message, **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    return DroverError(message, **kwargs)


def is_retryable(err: BaseException) -> bool:
    """Whether the client retries after this error: 429, 5xx and connection errors."""
    return isinstance(err, (RateLimitError, ServerError, APIConnectionError))
