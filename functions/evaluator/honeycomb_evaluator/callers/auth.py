"""Turns a request into a Caller (401 when nobody matches) and checks what it may query (403).

Credentials come from two places. The `Authorization: Bearer` header works everywhere. Behind
AWS, Mangum puts the Lambda event in the ASGI scope as `aws.event`; its request context names
the IAM principal a Function URL verified, or the JWT claims an HTTP API verified. Outside AWS
that key is absent, so a local request cannot claim an IAM or JWT identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from honeycomb_evaluator.errors import Forbidden, NotConfigured, Unauthenticated
from honeycomb_evaluator.settings import CallerSettings

from .registry import ANONYMOUS, Caller, Credentials, RegistryError
from .sources import FileRegistrySource, RegistrySource, SecretRegistrySource

_NO_REGISTRY = (
    "no caller registry is configured (EVALUATOR_CALLERS_FILE or EVALUATOR_CALLERS_SECRET_ID); "
    "EVALUATOR_ALLOW_ANONYMOUS=true allows anonymous calls for a local demo"
)


def credentials_from(headers: Mapping[str, str], aws_event: Mapping[str, Any] | None) -> Credentials:
    """Collect what the request presents. `headers` is case-insensitive (Starlette's Headers)."""
    authorizer = _dig(aws_event, "requestContext", "authorizer")
    iam = _dig(authorizer, "iam")
    claims = _dig(authorizer, "jwt", "claims")
    user_arn = iam.get("userArn") if iam else None
    iam_user_arn = user_arn if isinstance(user_arn, str) and user_arn else None
    authorization = headers.get("authorization")
    bearer = _bearer(authorization)
    return Credentials(
        bearer_token=bearer,
        # Sent but not `Bearer <token>` (empty, Basic, garbled): wrong credentials, never anonymous.
        # (Behind a Function URL the header is the SigV4 signature AWS already checked.)
        unusable_authorization=authorization is not None and bearer is None and not (iam_user_arn or claims),
        iam_user_arn=iam_user_arn,
        jwt_claims=claims or None,
    )


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _dig(data: Mapping[str, Any] | None, *path: str) -> Mapping[str, Any] | None:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data if isinstance(data, Mapping) else None


class Authenticator:
    def __init__(self, source: RegistrySource | None, *, allow_anonymous: bool = False) -> None:
        self._source = source
        self._allow_anonymous = allow_anonymous

    @classmethod
    def from_settings(cls, settings: CallerSettings) -> Authenticator:
        source: RegistrySource | None = None
        if settings.registry_file:
            source = FileRegistrySource(settings.registry_file)
        elif settings.registry_secret_id:
            source = SecretRegistrySource(
                settings.registry_secret_id, max_age_seconds=settings.registry_max_age_seconds
            )
        return cls(source, allow_anonymous=settings.allow_anonymous)

    async def authenticate(self, credentials: Credentials) -> Caller:
        presented = bool(
            credentials.bearer_token
            or credentials.iam_user_arn
            or credentials.jwt_claims
            or credentials.unusable_authorization
        )
        if self._source is None:
            # A demo without a registry: whatever the request presents, it cannot be checked.
            if self._allow_anonymous:
                return ANONYMOUS
            raise Unauthenticated(_NO_REGISTRY)
        try:
            caller = (await self._source.registry()).identify(credentials)
            if caller is None and presented:
                caller = (await self._source.registry(after_miss=True)).identify(credentials)
        except RegistryError as e:
            raise NotConfigured(str(e)) from None
        if caller is not None:
            return caller
        if not presented and self._allow_anonymous:
            return ANONYMOUS
        if not presented:
            raise Unauthenticated("missing credentials: send Authorization: Bearer <token>")
        if credentials.unusable_authorization:
            raise Unauthenticated("the Authorization header must be `Bearer <token>`")
        raise Unauthenticated("unknown caller: the token or principal is not in the caller registry")


def authorize(caller: Caller, dataset: str, environment: str) -> None:
    """Raise Forbidden unless `caller` may query `dataset` in `environment`."""
    if not caller.may_query(dataset, environment):
        field = "environment" if caller.may_use_dataset(dataset) else "dataset"
        raise Forbidden(
            f"caller {caller.name!r} may not query dataset {dataset!r} in environment {environment!r}",
            field=field,
        )
