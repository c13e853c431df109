"""``tta-gateway``: the command line.

Commands::

    tta-gateway serve --config gateway.yaml     run the gateway from a config file (+ TTA_GATEWAY__* env)
    tta-gateway demo [--grpc-port N] [--http-port N] [--keys DIR]
                                                run every reference TTA service and the gateway in front
    tta-gateway keys --out DIR                  a development signing key and its JWKS (auth.jwks)
    tta-gateway token --sub ID --role ROLE [--ttl SECONDS] [--key DIR/signing-key.pem]
                                                a development access token (by default one the demo takes)

The demo signs tokens with a development key kept in ``--keys`` (default: ``$TTA_GATEWAY_DEMO_KEYS``,
else ``$XDG_STATE_HOME/tta-gateway/demo-keys``, else ``~/.local/state/tta-gateway/demo-keys``), made on
first use, so ``tta-gateway token`` mints tokens the running demo accepts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

# Before grpc is imported (it reads the variable once): grpc's C core writes outside the logs'
# redaction layer, and its tracers (GRPC_TRACE) print header values in clear below ERROR.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from gateway.app import Gateway, serve
from gateway.config import load_settings
from gateway.errors import ConfigError

DEMO_ISSUER = "https://auth.tta.example"  # the demo AuthService's (services._issuer.DEMO_ISSUER)
DEMO_AUDIENCE = "tta-gateway"
DEMO_TOKEN_TTL = 12 * 3600.0

log = logging.getLogger("gateway")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tta-gateway",
        description="The gRPC-first API gateway in front of every TTA service.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p_serve = sub.add_parser(
        "serve",
        help="run the gateway from a YAML config file",
        description="Run the gateway. Settings come from --config (a gateway YAML file, or a TTA "
        "config/tta_config.yaml whose `gateway:` section is used), then TTA_GATEWAY__SECTION__KEY "
        "environment variables. An unknown key or bad value stops start-up with the reason.",
    )
    p_serve.add_argument("--config", type=Path, help="YAML settings file (default: built-in defaults)")
    p_demo = sub.add_parser(
        "demo",
        help="run the gateway with every reference TTA service, in memory",
        description="Start every reference TTA service on loopback and the gateway in front of them "
        "with embedded defaults; print the endpoints and a first call once ready. Ctrl-C stops all.",
    )
    p_demo.add_argument("--grpc-port", type=int, default=50051, help="gateway gRPC port (default 50051)")
    p_demo.add_argument("--http-port", type=int, default=8080, help="gateway HTTP port (default 8080)")
    p_demo.add_argument(
        "--admin-port", type=int, default=9090, help="admin port: /metrics, /healthz, /readyz (default 9090)"
    )
    p_demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p_demo.add_argument(
        "--keys",
        type=Path,
        default=None,
        help=f"directory of the demo's development signing key, made when missing (default {_demo_keys()})",
    )
    p_keys = sub.add_parser(
        "keys",
        help="generate a development signing key and its JWKS (for auth.jwks)",
        description="Write DIR/signing-key.pem (private, mode 0600) and DIR/jwks.json (the public key, "
        "for auth.jwks). Development only: production keys live with the token issuer, and the gateway "
        "only ever reads the public JWKS.",
    )
    p_keys.add_argument("--out", type=Path, required=True, help="directory to write the two files into")
    p_keys.add_argument("--alg", choices=["EdDSA", "ES256"], default="EdDSA", help="key type (default EdDSA)")
    p_token = sub.add_parser(
        "token",
        help="mint a development access token",
        description="Print a signed access token (a JWT) for development and tests, signed with a key "
        "from `tta-gateway keys`. Never log or commit a token.",
    )
    p_token.add_argument(
        "--key",
        type=Path,
        default=None,
        help=f"the signing key (default: the demo's, {_demo_keys() / 'signing-key.pem'})",
    )
    p_token.add_argument("--sub", required=True, help="the subject: a player, staff or service id")
    p_token.add_argument("--role", action="append", default=[], help="a role (repeatable)")
    p_token.add_argument("--permission", action="append", default=[], help="a permission (repeatable)")
    p_token.add_argument(
        "--ttl", type=_positive_seconds, default=900.0, help="seconds until it expires (default 900)"
    )
    p_token.add_argument("--issuer", default=DEMO_ISSUER, help=f"iss (default {DEMO_ISSUER}, the demo's)")
    p_token.add_argument("--audience", default=DEMO_AUDIENCE, help=f"aud (default {DEMO_AUDIENCE})")
    p_token.add_argument(
        "--patient",
        action="append",
        default=[],
        help="a player on a therapist's caseload (tta_patients; repeatable)",
    )
    return parser


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 366 * 86400:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 and at most a year (31622400)")
    return value


def _demo_keys() -> Path:
    """Where the demo keeps its development key: stable across runs, so tokens outlive a restart."""
    if explicit := os.environ.get("TTA_GATEWAY_DEMO_KEYS"):
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "tta-gateway" / "demo-keys"


def _keys(out: Path, alg: str, *, quiet: bool = False) -> None:
    from gateway.identity.keys import Algorithm
    from gateway.identity.mint import generate_dev_keypair

    pair = generate_dev_keypair(Algorithm(alg))
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = out / "signing-key.pem"
    private.touch(mode=0o600, exist_ok=True)
    private.chmod(0o600)
    private.write_bytes(pair.private_pem)
    (out / "jwks.json").write_text(json.dumps(pair.jwks(), indent=2) + "\n")
    if not quiet:
        print(f"wrote {private} (private) and {out / 'jwks.json'} (kid {pair.kid})")


def _token(args: argparse.Namespace) -> None:
    import secrets
    import time

    from cryptography.hazmat.primitives import serialization

    from gateway.identity.mint import mint, public_jwk

    key = args.key if args.key is not None else _demo_keys() / "signing-key.pem"
    try:
        private: Any = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except FileNotFoundError:
        raise ConfigError(
            f"--key {key}: no such file (run `tta-gateway demo` once to make the demo's key, or "
            "`tta-gateway keys --out DIR` and pass --key DIR/signing-key.pem)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--key {key}: not a readable PEM private key ({type(exc).__name__})") from None
    alg = {"OKP": "EdDSA", "EC": "ES256", "RSA": "RS256"}
    jwk = public_jwk(private.public_key())
    claims: dict[str, Any] = {
        "iss": args.issuer,
        "aud": args.audience,
        "sub": args.sub,
        "roles": args.role,
        "type": "access",
        "jti": secrets.token_urlsafe(16),  # so a denylist can revoke it like the AuthService's
    }
    if args.permission:
        claims["permissions"] = args.permission
    if args.patient:
        claims["tta_patients"] = args.patient
    token = mint(claims, private, kid=jwk["kid"], alg=alg[jwk["kty"]], ttl_seconds=args.ttl, now=time.time())
    print(token)


def _ready_banner(gateway: Gateway, tokens: dict[str, str]) -> None:
    port, http = gateway.grpc_port, gateway.http_port
    lines = [
        "",
        f"tta-gateway is ready: gRPC on {gateway.settings.grpc.host}:{port}, "
        f"{len(gateway.table.services)} services, {len(gateway.table.routes)} methods",
        "",
        "  list every TTA service through reflection:",
        f"    npx --yes @bufbuild/buf curl --protocol grpc --http2-prior-knowledge --list-methods http://127.0.0.1:{port}",
        "  make a first call:",
        '    npx --yes @bufbuild/buf curl --protocol grpc --http2-prior-knowledge -d \'{"payload": "aGk="}\' \\',
        f"      http://127.0.0.1:{port}/tta.v1.DiagnosticsService/Echo",
        "  or with grpcurl:",
        f"    grpcurl -plaintext 127.0.0.1:{port} list",
        "",
        f"  metrics: http://127.0.0.1:{gateway.admin_port}/metrics   "
        f"health: /healthz (alive), /readyz (ready to serve)",
        "",
        "  Calls need a bearer token (auth is on). Ready-made ones, valid 12 hours; "
        "`tta-gateway token --sub ID --role ROLE` mints more:",
        f"    export TTA_PLAYER_TOKEN={tokens['player']}",
        "      # pl_demo, a player (sign in as alex@example.org / demo for your own)",
        f"    export TTA_THERAPIST_TOKEN={tokens['therapist']}",
        "      # st_therapist, a therapist with pl_demo on their caseload",
        "",
        f"  REST/JSON on http://127.0.0.1:{http}:",
        f"    curl http://127.0.0.1:{http}/api/v1/worlds",
        f'    curl -H "Authorization: Bearer $TTA_PLAYER_TOKEN" http://127.0.0.1:{http}/api/v1/players/pl_demo',
        f'    curl -H "Authorization: Bearer $TTA_THERAPIST_TOKEN" http://127.0.0.1:{http}/api/v1/players/pl_demo/progress',
        f"    curl -N -X POST http://127.0.0.1:{http}/api/v1/agents/ag_guide:stream \\\n"
        '      -H "Authorization: Bearer $TTA_PLAYER_TOKEN" -H "Content-Type: application/json" '
        '-d \'{"input": "hello"}\'',
        f"  API contract: http://127.0.0.1:{http}/openapi.json   docs page: /docs",
        f"  browser chat over WebSocket (as pl_demo): http://127.0.0.1:{http}/docs/chat#token={tokens['player']}",
        "",
        "  Ctrl-C (SIGTERM) drains in-flight calls and stops; a second Ctrl-C stops at once.",
        "",
    ]
    print("\n".join(lines), flush=True)


async def _demo(args: argparse.Namespace) -> None:
    # The demo is the one command allowed to import services/.
    from gateway.state.denylist import MemoryDenylist
    from services._issuer import Issuer
    from services.auth import AuthServicer
    from services.server import start_all
    from services.state import World

    keys = args.keys if args.keys is not None else _demo_keys()
    if not (keys / "signing-key.pem").exists():
        _keys(keys, "EdDSA", quiet=True)
        log.info("made the demo's development signing key in %s", keys)
    issuer = Issuer.from_pem(keys / "signing-key.pem", DEMO_ISSUER, DEMO_AUDIENCE)
    (keys / "jwks.json").write_text(json.dumps(issuer.jwks(), indent=2) + "\n")  # always the key's own
    # One process: the AuthService puts what it revokes on the very denylist the gateway reads.
    denylist = MemoryDenylist()
    world = World(issuer=issuer, denylist=denylist)
    auth = AuthServicer(world)
    tokens = {
        "player": auth.sign_in_as("alex@example.org", DEMO_TOKEN_TTL),
        "therapist": auth.sign_in_as("therapist", DEMO_TOKEN_TTL),
    }
    running = await start_all(host="127.0.0.1", world=world)
    settings = load_settings(
        None,
        # The demo's own choices win; other TTA_GATEWAY__* variables (log level, tracing) still apply.
        environ={
            **os.environ,
            "TTA_GATEWAY__GRPC__HOST": args.host,
            "TTA_GATEWAY__GRPC__PORT": str(args.grpc_port),
            "TTA_GATEWAY__HTTP__HOST": args.host,
            "TTA_GATEWAY__HTTP__PORT": str(args.http_port),
            "TTA_GATEWAY__ADMIN__PORT": str(args.admin_port),
            "TTA_GATEWAY__UPSTREAMS": running.upstreams_json(),
            "TTA_GATEWAY__AUTH__ENABLED": "true",
            "TTA_GATEWAY__AUTH__ISSUER": DEMO_ISSUER,
            "TTA_GATEWAY__AUTH__AUDIENCE": DEMO_AUDIENCE,
            "TTA_GATEWAY__AUTH__JWKS": str(keys / "jwks.json"),
        },
    )
    try:
        await serve(settings, on_ready=lambda gateway: _ready_banner(gateway, tokens), denylist=denylist)
    finally:
        await running.stop()


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed: measured to cut the gateway's CPU per call (bench/)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every platform but Windows
        asyncio.run(main)
    else:
        uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            settings = load_settings(args.config)
            logging.getLogger().setLevel(settings.log.level.upper())
            _run(serve(settings))
        elif args.command == "keys":
            _keys(args.out, args.alg)
        elif args.command == "token":
            _token(args)
        else:
            _run(_demo(args))
    except ConfigError as exc:
        print(f"tta-gateway: configuration error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
