"""The import rules of docs/architecture.md ("What each room may import"), checked on the source.

Every module under ``gateway/`` and ``transcoder/`` is parsed with ``ast``, never imported, so a
rule holds for imports under ``TYPE_CHECKING`` and inside functions too. A failure names the module,
the line and the offending import or call, and the rule it breaks.

Each rule is also checked to be about something: the modules it names exist, and the one module
that should match a pattern (the invoker's multicallables) does, so a rename cannot make a rule pass
by matching nothing.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "transcoder")
DOC = "docs/architecture.md, 'What each room may import'"


@dataclass(frozen=True, slots=True)
class Module:
    path: str  # "gateway/doors/grpc_door.py"
    name: str  # "gateway.doors.grpc_door"
    tree: ast.Module


@dataclass(frozen=True, slots=True)
class Import:
    line: int
    name: str  # a dotted module name, resolved when relative


def _modules() -> list[Module]:
    found = []
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            rel = file.relative_to(ROOT).as_posix()
            parts = rel.removesuffix(".py").split("/")
            if parts[-1] == "__init__":
                parts.pop()
            found.append(Module(rel, ".".join(parts), ast.parse(file.read_text(), filename=rel)))
    return found


MODULES = _modules()
BY_PATH = {m.path: m for m in MODULES}


def _imports(module: Module) -> Iterator[Import]:
    """Every module ``module`` imports: statements anywhere in it, and ``importlib.import_module`` /
    ``__import__`` of a literal name. ``from a import b`` yields ``a`` and ``a.b`` (b may be a module)."""
    is_package = module.path.endswith("__init__.py")
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.name.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join([*parts[:keep], *([base] if base else [])])
            yield Import(node.lineno, base)
            for alias in node.names:
                if alias.name != "*":
                    yield Import(node.lineno, f"{base}.{alias.name}")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield Import(node.lineno, node.args[0].value)


def _offending(modules: list[Module], bad: Callable[[str], bool]) -> list[str]:
    """``path:line imports name`` for each import ``bad`` flags, the most specific name per line
    (``from a import b`` yields ``a`` and ``a.b``)."""
    found: dict[tuple[str, int], str] = {}
    for m in modules:
        for imp in _imports(m):
            key = (m.path, imp.line)
            if bad(imp.name) and len(imp.name) > len(found.get(key, "")):
                found[key] = imp.name
    return [f"{path}:{line} imports {name}" for (path, line), name in found.items()]


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _in_room(module: Module, room: str) -> bool:
    return module.path == room if room.endswith(".py") else module.path.startswith(room)


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("gateway/policies/x.py", "import gateway.doors.http_door", ["gateway.doors.http_door"]),
        ("gateway/policies/x.py", "from gateway import doors", ["gateway", "gateway.doors"]),
        ("gateway/policies/x.py", "from ..doors import cors", ["gateway.doors", "gateway.doors.cors"]),
        (
            "gateway/policies/__init__.py",
            "from .deadline import D",
            ["gateway.policies.deadline", "gateway.policies.deadline.D"],
        ),
        (
            "gateway/x.py",
            "def f():\n    from services.server import s",
            ["services.server", "services.server.s"],
        ),
        (
            "gateway/x.py",
            "import importlib\nimportlib.import_module('services.x')",
            ["importlib", "services.x"],
        ),
        (
            "gateway/x.py",
            "if TYPE_CHECKING:\n    from gateway.doors.http_door import H",
            ["gateway.doors.http_door", "gateway.doors.http_door.H"],
        ),
    ],
)
def test_imports_are_found_in_every_form(path: str, source: str, expected: list[str]) -> None:
    parts = path.removesuffix(".py").split("/")
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    module = Module(path, name, ast.parse(source))
    assert [i.name for i in _imports(module)] == expected


# --- which rooms may not import which ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    room: str  # a folder ("gateway/policies/") or one module ("gateway/routes.py")
    forbidden: tuple[str, ...]  # module name prefixes
    why: str

    def __str__(self) -> str:
        return self.room


RULES = (
    Rule(
        "transcoder/",
        ("gateway", "services", "grpc"),
        "the transcoder is pure: it never imports the running system, the reference services or grpc",
    ),
    Rule("gateway/policies/", ("gateway.doors",), "a policy never imports a door"),
    Rule(
        "gateway/chain/",
        ("gateway.doors", "gateway.policies"),
        "the chain knows no door and no particular step (the composition root hands it its steps)",
    ),
    Rule("gateway/upstream/", ("gateway.doors", "gateway.policies"), "the invoker serves every door alike"),
    Rule(
        "gateway/telemetry/",
        ("gateway.doors", "gateway.policies", "gateway.chain", "gateway.upstream"),
        "telemetry is used by the chain and the doors, and uses neither",
    ),
    Rule(
        "gateway/identity/",
        ("gateway.doors", "gateway.policies", "gateway.chain", "gateway.upstream", "gateway.config"),
        "token verification is pure and knows nothing of calls, doors or settings (the identity step "
        "and the composition root use it)",
    ),
    Rule(
        "gateway/state/",
        ("gateway.doors", "gateway.policies", "gateway.chain", "gateway.upstream"),
        "shared state is a store behind a protocol: the steps use it, it uses none of them",
    ),
    Rule("gateway/routes.py", ("gateway.config",), "the route table is compiled from claims, not settings"),
    Rule(
        "gateway/doors/grpc_door.py",
        ("gateway.doors.http_door", "gateway.doors.ws_door"),
        "doors never import each other",
    ),
    Rule(
        "gateway/doors/http_door.py",
        ("gateway.doors.grpc_door", "gateway.doors.ws_door"),
        "doors never import each other",
    ),
    Rule(
        "gateway/doors/ws_door.py",
        ("gateway.doors.grpc_door", "gateway.doors.http_door"),
        "doors never import each other",
    ),
)

# Imports of the transcoder outside its own package and the standard library: protobuf (with the
# googleapis messages google.api / google.rpc) and orjson.
TRANSCODER_THIRD_PARTY = ("google.protobuf", "google.api", "google.rpc", "orjson")


@pytest.mark.parametrize("rule", RULES, ids=str)
def test_a_room_does_not_import_what_it_must_not(rule: Rule) -> None:
    members = [m for m in MODULES if _in_room(m, rule.room)]
    assert members, f"{rule.room}: no such module or package any more; update the rule and {DOC}"
    broken = _offending(members, lambda name: any(_under(name, p) for p in rule.forbidden))
    assert not broken, f"{rule.why} ({DOC}):\n  " + "\n  ".join(broken)


def test_the_transcoder_imports_only_the_standard_library_protobuf_and_orjson() -> None:
    allowed = (*TRANSCODER_THIRD_PARTY, "transcoder")
    broken = _offending(
        [m for m in MODULES if _in_room(m, "transcoder/")],
        lambda name: (
            name.partition(".")[0] not in sys.stdlib_module_names
            and not any(_under(name, a) or _under(a, name) for a in allowed)
        ),
    )
    assert not broken, f"the transcoder imports protobuf and orjson only ({DOC}):\n  " + "\n  ".join(broken)


def test_only_the_demo_command_imports_the_reference_services() -> None:
    broken = _offending([m for m in MODULES if m.path != "gateway/cli.py"], lambda n: _under(n, "services"))
    assert "gateway/cli.py" in BY_PATH
    assert not broken, (
        f"nothing in gateway/ or transcoder/ imports services/ but the demo command ({DOC}):\n  "
        + "\n  ".join(broken)
    )


# --- who calls upstreams ---------------------------------------------------------------------------------

ARITIES = frozenset({"unary_unary", "unary_stream", "stream_unary", "stream_stream"})
INVOKER = "gateway/upstream/invoker.py"
# Besides the invoker, two modules talk to upstreams, neither on a caller's behalf: the pool checks
# their health (grpc.health.v1 through a stub), and the descriptor loader reads their contracts by
# server reflection at start-up and on a reload. No other module opens a channel or makes a stub.
CHANNEL_OWNERS = frozenset({"gateway/upstream/pool.py", "gateway/descriptors.py"})
CHANNEL_FACTORIES = frozenset({"insecure_channel", "secure_channel"})


def _multicallables(module: Module) -> Iterator[tuple[int, str]]:
    """Calls that make a channel's multicallable: ``x.unary_unary(...)`` (and the other three arities;
    ``grpc.unary_unary_rpc_method_handler``, server side, is another name) or ``getattr(x.channel, ...)``
    / ``getattr(x, "unary_unary")``, as the invoker builds them."""
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in ARITIES:
            yield node.lineno, f".{node.func.attr}(...)"
        elif _called_name(node) == "getattr" and len(node.args) >= 2:
            target, attr = node.args[0], node.args[1]
            if (isinstance(target, ast.Attribute) and target.attr == "channel") or (
                isinstance(attr, ast.Constant) and attr.value in ARITIES
            ):
                yield node.lineno, f"getattr({ast.unparse(target)}, {ast.unparse(attr)})"


def test_only_the_invoker_makes_calls_on_a_channel() -> None:
    assert INVOKER in BY_PATH, f"{INVOKER} is gone; update {DOC}"
    assert list(_multicallables(BY_PATH[INVOKER])), f"{INVOKER} no longer matches; update this test"
    broken = [
        f"{m.path}:{line} calls {what}"
        for m in MODULES
        if m.path != INVOKER
        for line, what in _multicallables(m)
    ]
    assert not broken, (
        f"only {INVOKER} calls upstreams: no other module builds a multicallable ({DOC}):\n  "
        + "\n  ".join(broken)
    )


def test_only_the_pool_and_the_descriptor_loader_open_channels_or_make_stubs() -> None:
    assert set(BY_PATH) >= CHANNEL_OWNERS, f"a module of {sorted(CHANNEL_OWNERS)} is gone; update {DOC}"
    broken = []
    for m in MODULES:
        if m.path in CHANNEL_OWNERS:
            continue
        for node in ast.walk(m.tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called_name(node)
            if name is not None and (name in CHANNEL_FACTORIES or name.endswith("Stub")):
                broken.append(f"{m.path}:{node.lineno} calls {name}(...)")
    assert not broken, (
        f"channels to upstreams belong to {', '.join(sorted(CHANNEL_OWNERS))} ({DOC}):\n  "
        + "\n  ".join(broken)
    )
