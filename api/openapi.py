"""The OpenAPI document: FastAPI's, plus the request bodies it cannot see.

The scoring routes read their bodies themselves (`api.body`, `api.events`), because the
contract's validator must decide, not FastAPI's; so FastAPI does not know their request
schemas. `request_body` documents them, and `install` adds the models they refer to.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.request_context import REQUEST_ID_HEADER
from api.schemas import ErrorBody

REF = "#/components/schemas/{model}"

REQUEST_ID_PARAMETER: dict[str, Any] = {
    "name": REQUEST_ID_HEADER,
    "in": "header",
    "required": False,
    "description": "Your id for the request (letters, digits, `._:-`, at most 100); echoed "
    "back, logged, and the event id when the body has none. Otherwise one is generated.",
    "schema": {"type": "string"},
}
_ECHOED = {REQUEST_ID_HEADER: {"description": "The request's id", "schema": {"type": "string"}}}
_CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'The scheme to authenticate with: `Bearer realm="streamscore"`',
        "required": True,
        "schema": {"type": "string"},
    }
}


def request_body(model: type[BaseModel], example: Any) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body follows `model`."""
    return {
        "parameters": [REQUEST_ID_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(model=model.__name__)},
                    "example": example,
                }
            },
        },
    }


def responses(ok: type[BaseModel], *errors: tuple[int, str]) -> dict[int | str, Any]:
    """The documented statuses of a route: `ok` as 200, each error as an `ErrorBody`."""
    documented: dict[int | str, Any] = {200: {"model": ok, "headers": _ECHOED}}
    for status, description in errors:
        headers = {**_ECHOED, **_CHALLENGE} if status == 401 else _ECHOED
        documented[status] = {"model": ErrorBody, "description": description, "headers": headers}
    return documented


def install(app: FastAPI, bodies: list[type[BaseModel]], max_batch: int) -> None:
    """Make `app.openapi()` include the schemas of `bodies` (cached after the first call),
    with the configured most events per batch."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _, definitions = models_json_schema(
                [(model, "validation") for model in bodies], ref_template=REF
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in definitions.get("$defs", {}).items():
                components.setdefault(name, definition)
            components["BatchRequest"]["properties"]["events"]["maxItems"] = max_batch
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
