"""Who puts the server's signature on a signer's evidence (PRODUCT.md D1, D7 of the issue).

`SignatureProvider` is the interface a licensed e-signature service (a CA, or a vendor such
as those Chinese companies use for Electronic Signature Law art. 13 reliability) implements:
`sign` receives the canonical evidence bytes and the signer, returns the signature and what the
provider wants kept (a certificate, a transaction id); `verifies` checks it later. The setting
`MIANTAN_SIGNATURE_PROVIDER` names the class ("package.module.Class"); the default is the
built-in signer.

What the built-in signer proves, and what it does not (docs/architecture.md says the same):
it proves that this deployment, holding its Ed25519 private key, recorded this evidence (the
snapshot's hash, the signer's account, the time by the server's clock, address, browser, the
re-authentication) and that nothing of it changed since. It does not prove the signer's
identity beyond their account and password at that moment, it is not a qualified or licensed
certificate, and the time is the server's own clock, not a trusted timestamp authority's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from miantan.core import signing


@dataclass(frozen=True)
class ProviderSignature:
    key_id: str
    signature: str
    evidence: dict[str, Any] = field(default_factory=dict)


class SignatureProvider(Protocol):
    name: str

    def sign(self, evidence: bytes, *, signer: Any) -> ProviderSignature: ...

    def verifies(
        self, evidence: bytes, signature: str, *, key_id: str, kept: dict[str, Any]
    ) -> bool: ...


class BuiltinSigner:
    """The deployment's own Ed25519 key (`miantan.core.signing`)."""

    name = "builtin"

    def sign(self, evidence: bytes, *, signer: Any) -> ProviderSignature:
        ring = signing.ring()
        key_id, value = ring.sign(evidence)
        return ProviderSignature(key_id=key_id, signature=value)

    def verifies(
        self, evidence: bytes, signature: str, *, key_id: str, kept: dict[str, Any]
    ) -> bool:
        return signing.ring().verifies(key_id, evidence, signature)


@cache
def provider() -> SignatureProvider:
    path = getattr(settings, "MIANTAN_SIGNATURE_PROVIDER", "")
    if not path:
        return BuiltinSigner()
    return import_string(path)()


def provider_named(name: str) -> SignatureProvider | None:
    """The provider that made a stored signature (None when it is not configured here)."""
    if name == BuiltinSigner.name:
        return BuiltinSigner()
    current = provider()
    return current if current.name == name else None
