"""What the API answers a request it cannot score, as named errors with an HTTP status.

Each carries a stable `code` a client can branch on, the message and the `hint` every
streamscore error has. None of them quotes the request: bodies may hold personal data.
"""

from __future__ import annotations

from typing import ClassVar

from core.errors import StreamscoreError
from core.registry import NoProductionModel


class ApiError(StreamscoreError):
    """Base class: `status` is the HTTP status the error is answered with."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    response_headers: ClassVar[tuple[tuple[str, str], ...]] = ()
    """Headers the answer carries (`Retry-After`, `WWW-Authenticate`)."""


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"
    hint = "send the body as JSON with `content-type: application/json`"

    def __init__(self) -> None:
        super().__init__("the request body must be application/json")


class BodyTooLarge(ApiError):
    status = 413
    code = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the request body is larger than the {limit} bytes allowed",
            hint="send fewer events per request (api.max_body_bytes, validation.max_event_bytes)",
        )
        self.limit = limit


class NoModelServing(ApiError):
    """No production version is loaded: nothing to score with until one is promoted."""

    status = 503
    code = "no_production_model"
    response_headers = (("Retry-After", "5"),)

    def __init__(self, model_name: str) -> None:
        cause = NoProductionModel(model_name)
        super().__init__(str(cause), hint=cause.hint)
        self.model_name = model_name


class Unauthorized(ApiError):
    """`api.auth_token` is set and the request did not carry it."""

    status = 401
    code = "unauthorized"
    response_headers = (("WWW-Authenticate", 'Bearer realm="streamscore"'),)
    hint = "send the API token as `Authorization: Bearer <token>` or `X-API-Key: <token>`"

    def __init__(self, presented: bool) -> None:
        super().__init__(
            "the API token is wrong" if presented else "this route requires the API token"
        )
