"""The route trie: http.proto's examples end to end, precedence, verbs, PARTIAL with the allowed methods,
HEAD, conflicts, immutability; and agreement with a naive linear scan on random route sets."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transcoder.router import Match, MatchKind, RouteConflict, Router, RouterBuilder
from transcoder.template import SegmentKind, Template, TemplateError, decode_bindings, parse_template

Route = tuple[str, str, str]  # method, template, target

FULL, PARTIAL, NONE = MatchKind.FULL, MatchKind.PARTIAL, MatchKind.NONE


def router(routes: Sequence[Route]) -> Router[str]:
    builder = RouterBuilder[str]()
    for method, template, target in routes:
        builder.add(method, template, target)
    return builder.build()


# The bindings of google/api/http.proto's Messaging example, every rule registered at once.
MESSAGING = router(
    [
        ("GET", "/v1/{name=messages/*}", "GetMessage(name)"),
        ("GET", "/v1/messages/{message_id}/{sub.subfield}", "GetMessage(sub)"),
        ("GET", "/v1/users/{user_id}/messages/{message_id}", "GetMessage(user)"),
        ("PATCH", "/v1/messages/{message_id}", "UpdateMessage"),
        ("GET", "/v1/{name=projects/*/locations/*}/instances", "ListInstances"),
        ("POST", "/v1/{name=projects/*/locations/*}:cancel", "Cancel"),
        ("GET", "/v1/files/{path=**}", "GetFile"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "target", "bindings"),
    [
        ("GET", "/v1/messages/123456", "GetMessage(name)", (("name", "messages/123456"),)),
        (
            "GET",
            "/v1/messages/123456/foo",
            "GetMessage(sub)",
            (("message_id", "123456"), ("sub.subfield", "foo")),
        ),
        (
            "GET",
            "/v1/users/me/messages/123456",
            "GetMessage(user)",
            (("user_id", "me"), ("message_id", "123456")),
        ),
        ("PATCH", "/v1/messages/123456", "UpdateMessage", (("message_id", "123456"),)),
        (
            "GET",
            "/v1/projects/p/locations/l/instances",
            "ListInstances",
            (("name", "projects/p/locations/l"),),
        ),
        ("POST", "/v1/projects/p/locations/l:cancel", "Cancel", (("name", "projects/p/locations/l"),)),
        ("GET", "/v1/files/a/b/c.txt", "GetFile", (("path", "a/b/c.txt"),)),
        ("GET", "/v1/files", "GetFile", (("path", ""),)),
        (  # an unknown verb stays in the segment
            "GET",
            "/v1/messages/1/x:frobnicate",
            "GetMessage(sub)",
            (("message_id", "1"), ("sub.subfield", "x:frobnicate")),
        ),
    ],
)
def test_http_proto_examples(
    method: str, path: str, target: str, bindings: tuple[tuple[str, str], ...]
) -> None:
    found = MESSAGING.match(method, path)
    assert (found.kind, found.target, found.bindings, found.allowed) == (FULL, target, bindings, ())
    assert found.template is not None


@pytest.mark.parametrize(
    ("routes", "method", "path", "target", "bindings"),
    [
        # a literal beats a variable
        (
            [("GET", "/v1/players/{id}", "Get"), ("GET", "/v1/players/me", "Me")],
            "GET",
            "/v1/players/me",
            "Me",
            (),
        ),
        (
            [("GET", "/v1/players/{id}", "Get"), ("GET", "/v1/players/me", "Me")],
            "GET",
            "/v1/players/you",
            "Get",
            (("id", "you"),),
        ),
        # a custom verb beats the same path read without a verb
        (
            [("GET", "/v1/players/{id}", "Get"), ("POST", "/v1/players/{id}:ban", "Ban")],
            "POST",
            "/v1/players/p1:ban",
            "Ban",
            (("id", "p1"),),
        ),
        # ... and an unknown verb is part of the segment
        (
            [("GET", "/v1/players/{id}", "Get"), ("POST", "/v1/players/{id}:ban", "Ban")],
            "GET",
            "/v1/players/p1:unban",
            "Get",
            (("id", "p1:unban"),),
        ),
        (
            [("POST", "/v1/players:search", "Search"), ("GET", "/v1/{id}", "Get")],
            "POST",
            "/v1/players:search",
            "Search",
            (),
        ),
        (
            [("POST", "/v1/players:search", "Search"), ("GET", "/v1/{id}", "Get")],
            "GET",
            "/v1/players:search",
            "Get",
            (("id", "players:search"),),
        ),
        # "*" beats "**"; a template that ends beats "**" matching nothing
        ([("GET", "/v1/**", "Rest"), ("GET", "/v1/*", "One")], "GET", "/v1/a", "One", ()),
        ([("GET", "/v1/**", "Rest"), ("GET", "/v1/*", "One")], "GET", "/v1/a/b", "Rest", ()),
        ([("GET", "/v1/{p=**}", "Rest"), ("GET", "/v1", "Root")], "GET", "/v1", "Root", ()),
        # the first difference from the left decides
        ([("GET", "/v1/{a}/x", "AX"), ("GET", "/v1/x/{b}", "XB")], "GET", "/v1/x/x", "XB", (("b", "x"),)),
        ([("GET", "/v1/{a}/x", "AX"), ("GET", "/v1/x/{b}", "XB")], "GET", "/v1/y/x", "AX", (("a", "y"),)),
        ([("GET", "/v1/x/**", "X"), ("GET", "/v1/*/y/z", "YZ")], "GET", "/v1/x/y/z", "X", ()),
        # backtracking: the literal branch matches the path only for another method
        (
            [("GET", "/v1/players/me", "Me"), ("DELETE", "/v1/players/{id}", "Delete")],
            "DELETE",
            "/v1/players/me",
            "Delete",
            (("id", "me"),),
        ),
        ([("GET", "/", "Root"), ("GET", "/{x}", "X")], "GET", "/", "Root", ()),
        # literal comparison after normalising unreserved escapes; bindings stay raw
        ([("GET", "/v1/~me/{id}", "Me")], "GET", "/%76%31/%7Eme/a%2Fb", "Me", (("id", "a%2Fb"),)),
    ],
)
def test_precedence(
    routes: list[Route], method: str, path: str, target: str, bindings: tuple[tuple[str, str], ...]
) -> None:
    found = router(routes).match(method, path)
    assert (found.kind, found.target, found.bindings) == (FULL, target, bindings)


@pytest.mark.parametrize(
    ("method", "path", "kind", "allowed"),
    [
        ("DELETE", "/v1/messages/1", PARTIAL, ("GET", "HEAD", "PATCH")),
        ("POST", "/v1/projects/p/locations/l/instances", PARTIAL, ("GET", "HEAD")),
        ("GET", "/v1/projects/p/locations/l:cancel", PARTIAL, ("POST",)),
        ("GET", "/v1/nope/1/2/3", NONE, ()),
        ("GET", "/v1/messages/1/", NONE, ()),  # a trailing slash is another path
        ("GET", "/v1//messages/1", NONE, ()),
        ("GET", "/v1/messages/1/x/y", NONE, ()),
        ("GET", "v1/messages/1", NONE, ()),  # not a path
        ("GET", "*", NONE, ()),
        ("GET", "", NONE, ()),
    ],
)
def test_partial_and_none(method: str, path: str, kind: MatchKind, allowed: tuple[str, ...]) -> None:
    assert MESSAGING.match(method, path) == Match(kind, allowed=allowed)


def test_head_falls_back_to_get_and_explicit_head_wins() -> None:
    routes = router(
        [("GET", "/v1/a/{id}", "Get"), ("HEAD", "/v1/b/{id}", "Head"), ("GET", "/v1/b/{id}", "GetB")]
    )
    assert routes.match("HEAD", "/v1/a/1").target == "Get"
    assert routes.match("HEAD", "/v1/b/1").target == "Head"
    assert routes.match("GET", "/v1/b/1").target == "GetB"
    assert routes.match("POST", "/v1/a/1").allowed == ("GET", "HEAD")


def test_any_method_route() -> None:
    routes = router([("*", "/web/**", "Static"), ("GET", "/web/index", "Index")])
    assert routes.match("OPTIONS", "/web/a/b").target == "Static"
    assert routes.match("GET", "/web/index").target == "Index"
    assert routes.match("POST", "/web/index").target == "Static"  # the GET-only literal falls through


def test_bindings_decode_with_the_matched_template() -> None:
    routes = router([("GET", "/v1/{id}/{path=**}", "Get")])
    found = routes.match("GET", "/v1/a%20b%2Fc/d%2Fe/%E2%9C%93")
    assert found.template is not None
    assert decode_bindings(found.template, found.bindings) == (("id", "a b/c"), ("path", "d%2Fe/✓"))


# Resource names as Google's API design guide writes them: one field bound to several segments, the
# templates told apart by their literals alone.
LIBRARY = router(
    [
        ("GET", "/v1/{name=shelves/*}", "GetShelf"),
        ("GET", "/v1/{name=authors/*}", "GetAuthor"),
        ("GET", "/v1/{name=shelves/*/books/*}", "GetBook"),
        ("GET", "/v1/{parent=shelves/*}/books", "ListBooks"),
        ("POST", "/v1/{name=shelves/*/books/*}:publish", "PublishBook"),
        ("GET", "/v1/{name=files/**}", "GetFile"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "target", "decoded"),
    [
        ("GET", "/v1/shelves/1", "GetShelf", (("name", "shelves/1"),)),
        ("GET", "/v1/authors/1", "GetAuthor", (("name", "authors/1"),)),
        ("GET", "/v1/shelves/1/books/2", "GetBook", (("name", "shelves/1/books/2"),)),
        ("GET", "/v1/shelves/1/books", "ListBooks", (("parent", "shelves/1"),)),
        ("POST", "/v1/shelves/1/books/2:publish", "PublishBook", (("name", "shelves/1/books/2"),)),
        ("GET", "/v1/shelves/a%20b/books/c%2Fd", "GetBook", (("name", "shelves/a b/books/c%2Fd"),)),
        ("GET", "/v1/files/a/b.txt", "GetFile", (("name", "files/a/b.txt"),)),
        ("GET", "/v1/files", "GetFile", (("name", "files"),)),
    ],
)
def test_resource_names_bind_the_whole_name(
    method: str, path: str, target: str, decoded: tuple[tuple[str, str], ...]
) -> None:
    found = LIBRARY.match(method, path)
    assert (found.kind, found.target) == (FULL, target)
    assert found.template is not None
    assert decode_bindings(found.template, found.bindings) == decoded


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/v1/{a}", "/v1/{b}"),
        ("/v1/*", "/v1/{x}"),
        ("/v1/x", "/v1/x"),
        ("/v1/~x", "/v1/%7Ex"),
        ("/v1/{a}/{b}", "/v1/{a=*/*}"),
        ("/v1/**", "/v1/{rest=**}"),
        ("/v1/{a}:do", "/v1/{b}:do"),
    ],
)
def test_conflicts(first: str, second: str) -> None:
    builder = RouterBuilder[str]()
    builder.add("GET", first, "first")
    builder.add("POST", second, "other method")
    with pytest.raises(RouteConflict) as caught:
        builder.add("GET", second, "second")
    message = str(caught.value)
    assert repr(first) in message
    assert repr(second) in message
    assert (
        message
        == f"route GET {second!r} conflicts with GET {first!r}: the two templates match the same paths"
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [("/v1/{a}", "/v1/{a}:do"), ("/v1/{a}", "/v1/a"), ("/v1/*", "/v1/**"), ("/v1/{a}/x", "/v1/x/{a}")],
)
def test_overlaps_that_precedence_resolves(first: str, second: str) -> None:
    router([("GET", first, "1"), ("GET", second, "2")])


def test_bad_template_and_method() -> None:
    builder = RouterBuilder[int]()
    with pytest.raises(TemplateError, match="column 4: empty segment"):
        builder.add("GET", "/v1/", 1)
    with pytest.raises(ValueError, match="must not be empty"):
        builder.add("", "/v1", 1)
    builder.add("GET", parse_template("/v1"), 1)  # a parsed template is accepted as is
    assert builder.build().match("GET", "/v1").target == 1


def test_router_is_frozen() -> None:
    builder = RouterBuilder[str]()
    builder.add("GET", "/a", "A")
    before = builder.build()
    builder.add("GET", "/b", "B")
    assert before.match("GET", "/b").kind is NONE
    assert builder.build().match("GET", "/b").target == "B"
    found = before.match("GET", "/a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.target = "X"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        before.extra = 1  # type: ignore[attr-defined]


# --- agreement with a naive linear scan ---------------------------------------------------------------

_UNRESERVED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")


def ref_norm(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        char = chr(int(m[1], 16))
        return char if char in _UNRESERVED else "%" + m[1].upper()

    return re.sub("%([0-9A-Fa-f]{2})", one, text)


def ref_bind(template: Template, segs: list[str]) -> tuple[tuple[str, str], ...] | None:
    kinds = [s.kind for s in template.segments]
    multi = bool(kinds) and kinds[-1] is SegmentKind.MULTI
    fixed = len(kinds) - multi
    if len(segs) < fixed or (not multi and len(segs) != fixed) or "" in segs:
        return None
    for seg, s in zip(segs, template.segments[:fixed], strict=False):
        if s.kind is SegmentKind.LITERAL and ref_norm(seg) != ref_norm(s.text):
            return None
    return tuple(
        (v.field_path, "/".join(segs[v.start : len(segs) if v.end == len(kinds) and multi else v.end]))
        for v in template.variables
    )


def ref_rank(template: Template) -> tuple[int, ...]:
    return tuple(
        {SegmentKind.LITERAL: 0, SegmentKind.SINGLE: 1, SegmentKind.MULTI: 2}[s.kind]
        for s in template.segments
    )


def ref_match(routes: list[tuple[str, Template, int]], method: str, path: str) -> Match[int]:
    """Every route tried in turn; the most specific (lexicographic rank, then exact method) wins."""
    if not path.startswith("/"):
        return Match(NONE)
    segs = [] if path == "/" else path[1:].split("/")
    candidates: list[tuple[list[str], str | None]] = []
    if segs and ":" in segs[-1] and segs[-1].rpartition(":")[2]:
        head, _, tail = segs[-1].rpartition(":")
        candidates.append(([*segs[:-1], head], tail))
    candidates.append((segs, None))
    accepted = [method, "GET", "*"] if method == "HEAD" else [method, "*"]
    allowed: set[str] = set()
    for cand, verb in candidates:
        hits = []
        for m, template, target in routes:
            if (template.verb and ref_norm(template.verb)) != (verb and ref_norm(verb)):
                continue
            bindings = ref_bind(template, cand)
            if bindings is not None:
                order = accepted.index(m) if m in accepted else len(accepted)
                hits.append((ref_rank(template), order, m, target, bindings, template))
        hits.sort(key=lambda hit: (hit[0], hit[1]))
        for _, order, m, target, bindings, template in hits:
            if order < len(accepted):
                return Match(FULL, target, bindings, (), template)
            allowed.add(m)
    if not allowed:
        return Match(NONE)
    return Match(PARTIAL, allowed=tuple(sorted(allowed | ({"HEAD"} if "GET" in allowed else set()))))


TEMPLATE_SEGMENTS = ["a", "b", "%61", "*", "{v}", "{v=a/*}"]
PATH_SEGMENTS = ["a", "b", "A", "%61", "%2F", "c", "", "a:x", "b:y"]
METHODS = ["GET", "POST", "HEAD", "*"]


@st.composite
def template_texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.sampled_from(TEMPLATE_SEGMENTS), max_size=3))
    parts = [p.replace("{v", f"{{v{i}") for i, p in enumerate(parts)]
    tail = draw(st.sampled_from(["", "**", "{rest=**}", "{rest=b/**}"]))
    if tail or not parts:
        parts.append(tail or "**")
    return "/" + "/".join(parts) + draw(st.sampled_from(["", ":x", ":y", ":%78"]))


paths = st.builds(
    lambda segs, verb: "/" + "/".join(segs) + verb,
    st.lists(st.sampled_from(PATH_SEGMENTS), max_size=4),
    st.sampled_from(["", ":x", ":y", ":"]),
)


def path_for(template: Template, data: st.DataObject) -> str:
    """A path the template matches (mostly: a drawn segment may be empty), for a high hit rate."""
    segs: list[str] = []
    for s in template.segments:
        if s.kind is SegmentKind.LITERAL:
            segs.append(s.text)
        elif s.kind is SegmentKind.SINGLE:
            segs.append(data.draw(st.sampled_from(PATH_SEGMENTS)))
        else:
            segs.extend(data.draw(st.lists(st.sampled_from(PATH_SEGMENTS), max_size=2)))
    return "/" + "/".join(segs) + (f":{template.verb}" if template.verb else "")


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(METHODS), template_texts()), max_size=8), st.data())
def test_router_agrees_with_linear_scan(routes: list[tuple[str, str]], data: st.DataObject) -> None:
    builder = RouterBuilder[int]()
    kept: list[tuple[str, Template, int]] = []
    shapes: set[tuple[str, tuple[str, ...], str | None]] = set()
    for target, (method, text) in enumerate(routes):
        template = parse_template(text)
        shape = tuple("*" if s.kind is SegmentKind.SINGLE else ref_norm(s.text) for s in template.segments)
        key = (method, shape, template.verb and ref_norm(template.verb))
        try:
            builder.add(method, template, target)
        except RouteConflict:
            assert key in shapes
        else:
            assert key not in shapes
            shapes.add(key)
            kept.append((method, template, target))
    built = builder.build()
    for _ in range(10):
        method = data.draw(st.sampled_from(["GET", "POST", "HEAD", "PUT"]))
        from_route: bool = data.draw(st.booleans())
        if kept and from_route:
            path = path_for(data.draw(st.sampled_from(kept))[1], data)
        else:
            path = data.draw(paths)
        assert built.match(method, path) == ref_match(kept, method, path), (method, path)
