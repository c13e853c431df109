"""HTTP method + path -> a registered target and its path bindings, through a segment trie.

A ``RouterBuilder`` collects ``(method, template, target)`` routes, rejecting conflicts eagerly, and
``build()`` freezes them into a ``Router``: an immutable trie keyed by normalised literal segment, with
one child for ``*`` (every single-segment wildcard or variable) and one terminal child for ``**``. The
router is never mutated after ``build()``, so one instance serves every thread and task.

Example::

    >>> builder = RouterBuilder[str]()
    >>> builder.add("GET", "/v1/{name=messages/*}", "GetMessage")
    >>> builder.add("GET", "/v1/players/me", "GetMe")
    >>> router = builder.build()
    >>> router.match("GET", "/v1/messages/123")
    Match(kind=FULL, target='GetMessage', bindings=(('name', 'messages/123'),), allowed=(), ...)
    >>> router.match("DELETE", "/v1/players/me")
    Match(kind=PARTIAL, target=None, bindings=(), allowed=('GET', 'HEAD'), template=None)

Rules, in the order they apply:

1. Verb. http.proto: the verb is the part after the last colon of the last segment. ``/v1/a:b`` is first
   tried as segments ``v1, a`` with verb ``b``; when nothing matches that way, as the segments
   ``v1, a:b`` without a verb (so ``{id}`` can still bind ``a:b``).
2. Precedence. Templates that match the same path are compared segment by segment from the left, and
   the first difference decides: a literal beats ``*``/``{var}``, which beats ``**``; a template that ends
   beats one that continues with ``**`` (matching zero segments). So ``/v1/players/me`` beats
   ``/v1/players/{id}``, ``/v1/a/{x}`` beats ``/v1/{x=**}``, and on ``/v1/x/x`` the template
   ``/v1/x/{b}`` beats ``/v1/{a}/x`` (its literal comes first). A trie node is visited at most once.
3. Method. The first template in that order with a route for the method wins; for ``HEAD`` a ``GET``
   route is accepted (RFC 9110 section 9.3.2), and a route registered for ``"*"`` (http.proto's
   ``custom { kind: "*" }``) accepts every method, after the exact method at the same template.
4. No route for the method, but some for others: ``PARTIAL``, with ``allowed`` the sorted methods that
   would match (``HEAD`` included wherever ``GET`` is), for a 405 with ``Allow``. Nothing: ``NONE``.

Conflicts: two routes for the same method whose templates have the same shape (the same normalised
literals, wildcards in the same places, the same verb; variable names do not count) can never both be
reached, so ``add`` raises ``RouteConflict``: ``GET /v1/{a}`` vs ``GET /v1/{b}``, ``/v1/*`` vs
``/v1/{x}``, ``/v1/{a}/{b}`` vs ``/v1/{a=*/*}``. Overlapping templates of different shapes are resolved by
precedence, not refused.

``path`` must be the raw request path (ASGI ``raw_path``, without the query): matching needs the
escapes intact (``%2F`` is not a separator). A path not starting with ``/`` matches nothing. Bindings
are raw; ``transcoder.template.decode_bindings(match.template, match.bindings)`` decodes them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

from transcoder.template import (
    Bindings,
    Program,
    SegmentKind,
    Template,
    compile_template,
    normalize_segment,
    parse_template,
    split_path,
)

T = TypeVar("T")

ANY_METHOD = "*"
Shape = tuple[tuple[str, ...], str | None]
"""A template's normalised literals and wildcards, and verb: see :func:`template_shape`."""


class RouteConflict(ValueError):
    """Two routes for one HTTP method whose templates match exactly the same paths."""

    def __init__(self, method: str, existing: Template, added: Template) -> None:
        super().__init__(
            f"route {method} {added.text!r} conflicts with {method} {existing.text!r}: "
            "the two templates match the same paths"
        )
        self.method = method
        self.existing = existing
        self.added = added


class MatchKind(enum.Enum):
    NONE = "none"  # no template matches the path: 404
    PARTIAL = "partial"  # some template matches the path, but not for this method: 405
    FULL = "full"

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    kind: MatchKind
    target: T | None = None
    bindings: Bindings = ()  # raw (still percent-encoded) values
    allowed: tuple[str, ...] = ()  # PARTIAL only: the methods that would match
    template: Template | None = None  # FULL only: the template that matched


@dataclass(frozen=True, slots=True)
class _Route(Generic[T]):
    method: str
    program: Program
    target: T


@dataclass(frozen=True, slots=True)
class _Node(Generic[T]):
    literals: Mapping[str, _Node[T]]
    single: _Node[T] | None
    multi: _Node[T] | None  # "**": consumes every remaining segment, so it has no children
    routes: Mapping[str | None, Mapping[str, _Route[T]]]  # verb -> method -> route


@dataclass(slots=True)
class _Draft(Generic[T]):
    literals: dict[str, _Draft[T]] = field(default_factory=dict)
    single: _Draft[T] | None = None
    multi: _Draft[T] | None = None
    routes: dict[str | None, dict[str, _Route[T]]] = field(default_factory=dict)

    def freeze(self) -> _Node[T]:
        return _Node(
            literals=MappingProxyType({k: v.freeze() for k, v in self.literals.items()}),
            single=None if self.single is None else self.single.freeze(),
            multi=None if self.multi is None else self.multi.freeze(),
            routes=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.routes.items()}),
        )


def template_shape(template: Template) -> Shape:
    """What decides the paths a template matches: its normalised literals, ``*``/``**`` (variable or
    not, whatever the name) and verb. Equal shapes match the same paths, so for one method they conflict.

    >>> template_shape(parse_template("/v1/{name=shelves/*}:Get"))
    (('=v1', '=shelves', '*'), 'Get')
    """
    keys = tuple(
        "=" + normalize_segment(s.text) if s.kind is SegmentKind.LITERAL else s.kind.value
        for s in template.segments
    )
    return keys, None if template.verb is None else normalize_segment(template.verb)


class RouterBuilder(Generic[T]):
    """Collects routes, validating each as it is added; ``build`` returns an immutable ``Router``."""

    def __init__(self) -> None:
        self._routes: list[_Route[T]] = []
        self._shapes: dict[tuple[str, Shape], Template] = {}

    def add(self, http_method: str, template: str | Template, target: T) -> None:
        """Register ``target`` for ``http_method`` (or ``"*"``, any method) on ``template``.

        Raises ``TemplateError`` for a bad template and ``RouteConflict`` for a template with the shape of
        one already registered for the same method.
        """
        if not http_method:
            raise ValueError("an HTTP method must not be empty")
        parsed = parse_template(template) if isinstance(template, str) else template
        key = (http_method, template_shape(parsed))
        existing = self._shapes.get(key)
        if existing is not None:
            raise RouteConflict(http_method, existing, parsed)
        self._shapes[key] = parsed
        self._routes.append(_Route(http_method, compile_template(parsed), target))

    def build(self) -> Router[T]:
        """Freeze the routes added so far; later ``add`` calls do not affect the returned router."""
        root: _Draft[T] = _Draft()
        for route in self._routes:
            node = root
            for segment in route.program.template.segments:
                if segment.kind is SegmentKind.LITERAL:
                    node = node.literals.setdefault(normalize_segment(segment.text), _Draft())
                elif segment.kind is SegmentKind.SINGLE:
                    node.single = node.single or _Draft()
                    node = node.single
                else:
                    node.multi = node.multi or _Draft()
                    node = node.multi
            node.routes.setdefault(route.program.verb, {})[route.method] = route
        # Templates of literals only are also keyed by their exact path: the common case (a request
        # without escapes for such a template) is then one dict lookup. A literal path always takes
        # precedence over wildcards (rule 2), so the shortcut can only find what the trie would.
        exact: dict[str, dict[str, _Route[T]]] = {}
        for route in self._routes:
            template = route.program.template
            if all(s.kind is SegmentKind.LITERAL for s in template.segments):
                path = "/" + "/".join(normalize_segment(s.text) for s in template.segments)
                if route.program.verb is not None:  # already normalised by compile_template
                    path += ":" + route.program.verb
                exact.setdefault(path, {})[route.method] = route
        return Router(root.freeze(), MappingProxyType({k: MappingProxyType(v) for k, v in exact.items()}))


def _leaves(node: _Node[T], segments: list[str], i: int) -> Iterator[_Node[T]]:
    """Every node whose template matches ``segments[i:]`` (normalised), in precedence order."""
    if i == len(segments):
        yield node
    else:
        child = node.literals.get(segments[i])
        if child is not None:
            yield from _leaves(child, segments, i + 1)
        if node.single is not None and segments[i]:
            yield from _leaves(node.single, segments, i + 1)
    if node.multi is not None and all(segments[i:]):
        yield node.multi


class Router(Generic[T]):
    """An immutable route trie; see the module docstring for the matching rules."""

    __slots__ = ("_exact", "_root")

    def __init__(self, root: _Node[T], exact: Mapping[str, Mapping[str, _Route[T]]]) -> None:
        self._root = root
        self._exact = exact  # literal-only templates by path: method -> route

    def _candidates(self, path: str) -> list[tuple[list[str], str | None]]:
        try:
            segments, verb = split_path(path)
        except ValueError:
            return []
        if verb is None:
            return [(segments, None)]
        return [(segments, verb), ([*segments[:-1], f"{segments[-1]}:{verb}"], None)]

    def match(self, http_method: str, path: str) -> Match[T]:
        """Match a raw request path for an HTTP method: ``FULL``, ``PARTIAL`` (405) or ``NONE`` (404)."""
        accepted = (http_method, "GET", ANY_METHOD) if http_method == "HEAD" else (http_method, ANY_METHOD)
        if "%" not in path:  # escapes would need normalising first: the trie does that
            by_path = self._exact.get(path)
            if by_path is not None:
                for method in accepted:
                    found = by_path.get(method)
                    if found is not None:
                        return Match(MatchKind.FULL, found.target, (), (), found.program.template)
        candidates = self._candidates(path)
        allowed: set[str] = set()
        for raw, verb in candidates:
            key = None if verb is None else normalize_segment(verb)
            for leaf in _leaves(self._root, [normalize_segment(s) for s in raw], 0):
                by_method = leaf.routes.get(key)
                if not by_method:
                    continue
                for method in accepted:
                    route = by_method.get(method)
                    if route is not None:
                        bindings = route.program.match(raw, verb)
                        if bindings is None:  # the trie and the program disagree: a bug, not a 404
                            raise AssertionError(f"{route.program.template.text!r} failed on {path!r}")
                        return Match(MatchKind.FULL, route.target, bindings, (), route.program.template)
                allowed.update(by_method)
        if not allowed:
            return Match(MatchKind.NONE)
        if "GET" in allowed:
            allowed.add("HEAD")
        return Match(MatchKind.PARTIAL, allowed=tuple(sorted(allowed)))
