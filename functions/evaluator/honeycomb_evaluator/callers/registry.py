"""The caller registry: who may call the evaluator, and what each caller may query.

A caller is one Argo Rollouts installation (usually one cluster). It proves who it is with a
bearer token (stored here only as a SHA-256 digest), an IAM principal (a Function URL checked
the SigV4 signature) or a JWT client id (API Gateway checked the token). The registry is JSON,
see "Callers" in docs/design.md.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

if TYPE_CHECKING:
    from .document import CallerEntry, RegistryDocument

_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):role/(?:[^/]+/)*(?P<name>[^/]+)$"
)
_ASSUMED_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<name>[^/]+)/(?P<session>.+)$"
)

Via = Literal["token", "iam", "jwt", "anonymous"]


def hash_token(token: str) -> str:
    """The digest the registry stores for a bearer token (`honeycomb-evaluator hash-token`)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """An identified caller, as the rest of the evaluator sees it."""

    name: str
    via: Via
    datasets: tuple[str, ...] = ("*",)
    environments: tuple[str, ...] = ("*",)
    budget_share: float | None = None

    def may_query(self, dataset: str, environment: str) -> bool:
        """Patterns are shell-style (`*`, `checkout-*`); `__all__` needs a pattern matching it."""
        return self.may_use_dataset(dataset) and _matches_any(environment, self.environments)

    def may_use_dataset(self, dataset: str) -> bool:
        return _matches_any(dataset, self.datasets)


ANONYMOUS = Caller(name="anonymous", via="anonymous")


def _matches_any(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


@dataclass(frozen=True)
class Credentials:
    """What a request presents; every field is optional and nothing here is trusted yet."""

    bearer_token: str | None = None
    iam_user_arn: str | None = None
    jwt_claims: Mapping[str, Any] | None = None
    unusable_authorization: bool = False  # an Authorization header that is not `Bearer <token>`


class RegistryError(ValueError):
    """The registry JSON is unusable; the message names the field but never a token digest."""


class CallerRegistry:
    """Looks callers up by credential. Immutable; a reload builds a new registry."""

    def __init__(self, document: RegistryDocument) -> None:
        self._entries = document.callers
        self._tokens = [(bytes.fromhex(c.token_sha256), c) for c in document.callers if c.token_sha256]
        self._jwt = {c.jwt_client_id: c for c in document.callers if c.jwt_client_id}
        self._iam = [c for c in document.callers if c.iam_principal]

    @classmethod
    def from_json(cls, text: str | bytes) -> CallerRegistry:
        from .document import RegistryDocument  # pydantic's models load with the registry

        try:
            return cls(RegistryDocument.model_validate_json(text))
        except ValidationError as e:
            raise RegistryError(_describe(e)) from None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._entries]

    def identify(self, credentials: Credentials) -> Caller | None:
        """The caller these credentials prove, or None. IAM and JWT were verified by AWS."""
        if credentials.iam_user_arn:
            for entry in self._iam:
                if entry.iam_principal and iam_principal_matches(
                    entry.iam_principal, credentials.iam_user_arn
                ):
                    return _caller(entry, "iam")
        if credentials.jwt_claims:
            for claim in ("client_id", "sub"):
                value = credentials.jwt_claims.get(claim)
                if isinstance(value, str) and value in self._jwt:
                    return _caller(self._jwt[value], "jwt")
        if credentials.bearer_token:
            return self._by_token(credentials.bearer_token)
        return None

    def _by_token(self, token: str) -> Caller | None:
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found: CallerEntry | None = None
        # Compare against every entry so the time taken does not depend on which one matches.
        for stored, entry in self._tokens:
            if hmac.compare_digest(stored, digest):
                found = entry
        return _caller(found, "token") if found else None


def _caller(entry: CallerEntry, via: Via) -> Caller:
    return Caller(
        name=entry.name,
        via=via,
        datasets=tuple(entry.datasets),
        environments=tuple(entry.environments),
        budget_share=entry.budget_share,
    )


def iam_principal_matches(principal: str, user_arn: str) -> bool:
    """Whether the Function URL's `userArn` is `principal`, or a session of that role.

    A role assumed through STS (IRSA, EKS Pod Identity, `aws sts assume-role`) signs as
    `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`; the role's own ARN may carry a path that
    the assumed-role ARN drops, so role and session are matched by partition, account and name.
    """
    if principal == user_arn:
        return True
    role = _ROLE_ARN.match(principal)
    session = _ASSUMED_ROLE_ARN.match(user_arn)
    if role and session:
        return all(role[part] == session[part] for part in ("partition", "account", "name"))
    # `arn:aws:sts::ACCOUNT:assumed-role/NAME` (no session) names every session of that role.
    return (
        principal.startswith("arn:")
        and ":assumed-role/" in principal
        and user_arn.startswith(principal + "/")
    )


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "registry"
    return f"caller registry: {where}: {first['msg']}"
