"""Reading a request body safely: JSON only, and never more than a limit into memory.

The size is checked on the declared `content-length` before anything is read and again
while reading, so a chunked upload without a length cannot slip past it either.
"""

from __future__ import annotations

from starlette.requests import Request

from api.errors import BodyTooLarge, UnsupportedMediaType


def is_json(content_type: str | None) -> bool:
    """`application/json` or any `application/*+json`, parameters (charset) ignored.

    >>> is_json("application/json; charset=utf-8"), is_json("text/plain"), is_json(None)
    (True, False, False)
    """
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_json_body(request: Request, limit: int) -> bytes:
    """The body's bytes; `UnsupportedMediaType` (415) or `BodyTooLarge` (413) otherwise."""
    if not is_json(request.headers.get("content-type")):
        raise UnsupportedMediaType()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
