"""The optional credential of the scoring routes: one shared token, as a bearer token or
an API key header, checked in constant time.

With `api.auth_token` unset nothing changes. Set, `POST /predict` and
`POST /predict/batch` answer 401 with `WWW-Authenticate` unless the request carries
`Authorization: Bearer <token>` or `X-API-Key: <token>`; `/health`, `/metrics`, `/` and
the docs stay open (probes and scrapers carry no credentials). The check runs before
the body is read, so an unauthenticated client costs no parsing. The token is never
logged, echoed or put in an error.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from api.errors import Unauthorized

API_KEY_HEADER = "X-API-Key"
_BEARER = HTTPBearer(auto_error=False, description="`Authorization: Bearer <api.auth_token>`")
_API_KEY = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="`X-API-Key: <api.auth_token>`"
)


class TokenCheck:
    """A FastAPI dependency: passes when either header holds the token, else 401.

    Both sides are hashed before `hmac.compare_digest`, so neither the token's bytes
    nor its length can be learnt from how long a refusal takes.
    """

    def __init__(self, token: SecretStr) -> None:
        self._digest = _digest(token.get_secret_value())

    def __repr__(self) -> str:
        return "TokenCheck(token=***)"

    def __call__(
        self,
        bearer: HTTPAuthorizationCredentials | None = Security(_BEARER),  # noqa: B008
        api_key: str | None = Security(_API_KEY),
    ) -> None:
        offered = [c for c in (bearer.credentials if bearer else None, api_key) if c]
        # Every offered credential is compared, so timing does not say which one failed.
        matches = [hmac.compare_digest(_digest(c), self._digest) for c in offered]
        if not any(matches):
            raise Unauthorized(presented=bool(offered))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
