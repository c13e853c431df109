"""The demo's browser chat client, served by the HTTP door beside ``/docs``: ``/docs/chat``.

Three static files in ``gateway/static`` (HTML, one script, one style sheet: no build step, no CDN, so
it works offline like ``/docs``), read once at import. The page speaks the WebSocket door's protocol
(docs/websocket-protocol.md, "A browser client"). Every file goes out under a strict
Content-Security-Policy: scripts and styles from the gateway only (no inline script, so injected markup
could not run), fetch and WebSocket connections to the page's own origin only (CSP Level 3 lets
``'self'`` cover ``ws:``/``wss:`` to the same host), no frames, no plugins, no forms posted elsewhere.
"""

from __future__ import annotations

from importlib import resources

from gateway.doors._http_responses import Scope, Send

CONTENT_SECURITY_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_FILES = {
    "/docs/chat": ("chat.html", b"text/html; charset=utf-8"),
    "/docs/chat.js": ("chat.js", b"text/javascript; charset=utf-8"),
    "/docs/chat.css": ("chat.css", b"text/css; charset=utf-8"),
}


def _load() -> dict[str, tuple[bytes, list[tuple[bytes, bytes]]]]:
    static = resources.files("gateway") / "static"
    assets = {}
    for path, (name, content_type) in _FILES.items():
        body = (static / name).read_bytes()
        headers = [
            (b"content-type", content_type),
            (b"cache-control", b"no-cache"),
            (b"content-security-policy", CONTENT_SECURITY_POLICY),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]
        assets[path] = (body, headers)
    return assets


ASSETS = _load()


async def serve(scope: Scope, send: Send) -> None:
    """Answer a GET or HEAD of one of the page's paths (the caller checked it is one)."""
    body, headers = ASSETS[scope["path"]]
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
