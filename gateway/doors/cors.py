"""CORS for the HTTP door: preflight answers and the headers of actual responses. Pure decisions.

Only configured origins get access; a preflight from any other origin, or asking for a method or
header that is not allowed, is answered 403 without CORS headers, so the browser blocks the call.
``*`` allows every origin (never together with credentials: the Fetch standard forbids it, so the
request's origin is echoed instead).
"""

from __future__ import annotations

from gateway.config import CorsSettings

Headers = list[tuple[bytes, bytes]]


class Cors:
    def __init__(self, settings: CorsSettings) -> None:
        self.settings = settings
        self._origins = frozenset(settings.allowed_origins)
        self._methods = frozenset(m.upper() for m in settings.allowed_methods)
        self._headers = frozenset(h.lower() for h in settings.allowed_headers)

    @property
    def enabled(self) -> bool:
        return bool(self._origins)

    def _allows(self, origin: str) -> bool:
        return "*" in self._origins or origin in self._origins

    def _origin_headers(self, origin: str) -> Headers:
        wildcard = "*" in self._origins and not self.settings.allow_credentials
        headers = [(b"access-control-allow-origin", b"*" if wildcard else origin.encode("latin-1"))]
        if not wildcard:
            headers.append((b"vary", b"Origin"))
        if self.settings.allow_credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

    def preflight(self, origin: str, method: str, request_headers: str) -> tuple[int, Headers]:
        """The status and headers of an answer to ``OPTIONS`` with ``Access-Control-Request-Method``."""
        asked = [h.strip().lower() for h in request_headers.split(",") if h.strip()]
        if (
            not self._allows(origin)
            or method.upper() not in self._methods
            or any(h not in self._headers for h in asked)
        ):
            return 403, [(b"vary", b"Origin")]
        return 204, [
            *self._origin_headers(origin),
            (b"access-control-allow-methods", ", ".join(sorted(self._methods)).encode()),
            (b"access-control-allow-headers", ", ".join(sorted(self._headers)).encode()),
            (b"access-control-max-age", str(self.settings.max_age_seconds).encode()),
        ]

    def response_headers(self, origin: str | None) -> Headers:
        """Headers added to an actual response to a cross-origin request."""
        if origin is None or not self._allows(origin):
            return []
        headers = self._origin_headers(origin)
        if self.settings.expose_headers:
            headers.append(
                (b"access-control-expose-headers", ", ".join(self.settings.expose_headers).encode())
            )
        return headers
