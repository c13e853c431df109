"""Path templates: the grammar of google/api/http.proto, its examples, the precise parse errors, the
compiled program, path splitting and the percent-decoding rules; the parser and the match are fuzzed."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transcoder.template import (
    Op,
    OpCode,
    PathDecodeError,
    Segment,
    SegmentKind,
    Template,
    TemplateError,
    Variable,
    compile_template,
    decode_binding,
    decode_bindings,
    normalize_segment,
    parse_template,
    split_path,
)

L, S, M = SegmentKind.LITERAL, SegmentKind.SINGLE, SegmentKind.MULTI


def match(template: str, path: str) -> tuple[tuple[str, str], ...] | None:
    segments, verb = split_path(path)
    program = compile_template(parse_template(template))
    found = program.match(segments, verb)
    if found is None and verb is not None:  # the whole last segment, as the router does
        found = program.match([*segments[:-1], f"{segments[-1]}:{verb}"], None)
    return found


# --- every example of google/api/http.proto (and its earlier revisions: **, verbs, nested names) ---

HTTP_PROTO_EXAMPLES = [
    ("/v1/{name=messages/*}", "/v1/messages/123456", (("name", "messages/123456"),)),
    ("/v1/messages/{message_id}", "/v1/messages/123456", (("message_id", "123456"),)),
    (
        "/v1/users/{user_id}/messages/{message_id}",
        "/v1/users/me/messages/123456",
        (("user_id", "me"), ("message_id", "123456")),
    ),
    (
        "/v1/messages/{message_id}/{sub.subfield}",
        "/v1/messages/123456/foo",
        (("message_id", "123456"), ("sub.subfield", "foo")),
    ),
    ("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b2", (("name", "shelves/s1/books/b2"),)),
    (
        "/v1/{parent=projects/*/locations/*}/instances",
        "/v1/projects/p/locations/us-east1/instances",
        (("parent", "projects/p/locations/us-east1"),),
    ),
    (
        "/v1/{name=projects/*/locations/*}:cancel",
        "/v1/projects/p/locations/l:cancel",
        (("name", "projects/p/locations/l"),),
    ),
    ("/v1/{name=**}", "/v1/a/b/c", (("name", "a/b/c"),)),
    ("/v1/{name=**}", "/v1", (("name", ""),)),  # ** matches zero or more segments
    ("/v1/{name=projects/**}:undelete", "/v1/projects/x/y:undelete", (("name", "projects/x/y"),)),
    ("/v1/**", "/v1/anything/at/all", ()),
    ("/v1/*/messages", "/v1/u1/messages", ()),
    ("/v1/{var}", "/v1/x", (("var", "x"),)),
    ("/v1/{var=*}", "/v1/x", (("var", "x"),)),
    ("/v1/{a.b.c}:do", "/v1/x:do", (("a.b.c", "x"),)),
]


@pytest.mark.parametrize(("template", "path", "bindings"), HTTP_PROTO_EXAMPLES)
def test_http_proto_examples(template: str, path: str, bindings: tuple[tuple[str, str], ...]) -> None:
    assert match(template, path) == bindings


def test_var_is_var_equals_star() -> None:
    assert parse_template("/v1/{var}").segments == parse_template("/v1/{var=*}").segments


@pytest.mark.parametrize(
    ("template", "segments", "verb", "variables"),
    [
        ("/", (), None, ()),
        ("/v1", ((L, "v1"),), None, ()),
        ("/v1/*/**", ((L, "v1"), (S, "*"), (M, "**")), None, ()),
        ("/v1/a%2Fb~c:go", ((L, "v1"), (L, "a%2Fb~c")), "go", ()),
        (
            "/v1/{name=messages/*}:get",
            ((L, "v1"), (L, "messages"), (S, "*")),
            "get",
            (Variable("name", 1, 3, multi_segment=True),),
        ),
        ("/{a}/{b=**}", ((S, "*"), (M, "**")), None, (Variable("a", 0, 1, False), Variable("b", 1, 2, True))),
        ("/{a=x}", ((L, "x"),), None, (Variable("a", 0, 1, multi_segment=False),)),
        ("/{_a1.B_2}", ((S, "*"),), None, (Variable("_a1.B_2", 0, 1, multi_segment=False),)),
    ],
)
def test_parse_structure(
    template: str,
    segments: tuple[tuple[SegmentKind, str], ...],
    verb: str | None,
    variables: tuple[Variable, ...],
) -> None:
    expected = Template(tuple(Segment(k, t) for k, t in segments), verb, variables, template)
    assert parse_template(template) == expected


@pytest.mark.parametrize(
    ("template", "column", "reason"),
    [
        ("", 0, "a template must start with '/'"),
        ("v1/x", 0, "a template must start with '/'"),
        ("//", 1, "empty segment"),
        ("/v1//x", 4, "empty segment"),
        ("/v1/", 4, "empty segment"),  # a trailing slash
        ("/v1/{a=}", 7, "empty segment"),
        ("/v1/{name=**}/x", 10, '"**" must be the last segment'),
        ("/**/**", 1, '"**" must be the last segment'),
        ("/v1/{a", 4, "'{' without a matching '}'"),
        ("/v1/{a=b/*", 4, "'{' without a matching '}'"),
        ("/v1/a}", 5, "'}' without a matching '{'"),
        ("/v1/}", 4, "'}' without a matching '{'"),
        ("/v1/{a={b}}", 7, "variables must not be nested"),
        ("/v1/{a=x{b}}", 8, "variables must not be nested"),
        ("/v1/x{a}", 5, "a variable must be a whole segment"),
        ("/v1/{a}/{a}", 9, "field 'a' is bound twice"),
        ("/{a.b}/x/{a.b=**}", 10, "field 'a.b' is bound twice"),
        ("/v1/{1a}", 5, "expected an identifier ([A-Za-z_][A-Za-z0-9_]*), found '1'"),
        ("/v1/{}", 5, "expected an identifier ([A-Za-z_][A-Za-z0-9_]*), found '}'"),
        ("/v1/{a.}", 7, "expected an identifier ([A-Za-z_][A-Za-z0-9_]*), found '}'"),
        ("/v1/{a-b}", 6, "invalid character '-' in field path"),
        ("/v1/{é}", 5, "expected an identifier ([A-Za-z_][A-Za-z0-9_]*), found 'é'"),
        ("/v1/a b", 5, "invalid character ' ' in literal (unreserved or %XX only)"),
        ("/v1/%zz", 4, "invalid percent-escape in literal"),
        ("/v1/a%2", 5, "invalid percent-escape in literal"),
        ("/v1/x:", 6, "empty verb"),
        ("/v1/x:a%", 7, "invalid percent-escape in verb"),
        ("/v1:a/b", 5, "unexpected '/' after the verb"),
        ("/v1:a:b", 5, "unexpected ':' after the verb"),
        ("/***", 3, "unexpected '*' after a segment"),
        ("/v1=x", 3, "unexpected '=' after a segment"),
        ("/v1/{a=x:y}", 8, "unexpected ':' in a variable"),
    ],
)
def test_parse_errors(template: str, column: int, reason: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(template)
    error = caught.value
    assert (error.template, error.column, error.reason) == (template, column, reason)
    assert str(error) == f"invalid path template {template!r} at column {column}: {reason}"
    assert isinstance(error, ValueError)


def test_compiled_program() -> None:
    program = compile_template(parse_template("/v1/{name=shelves/*}/%7Ebooks/{rest=**}:Get"))
    assert program.ops == (
        Op(OpCode.LITERAL, "v1"),
        Op(OpCode.BEGIN, "name"),
        Op(OpCode.LITERAL, "shelves"),
        Op(OpCode.ANY),
        Op(OpCode.END, "name"),
        Op(OpCode.LITERAL, "~books"),  # literals are stored normalised
        Op(OpCode.BEGIN, "rest"),
        Op(OpCode.ANY_REST),
        Op(OpCode.END, "rest"),
    )
    assert program.verb == "Get"
    assert program.match(["v1", "shelves", "s", "~books", "a", "b"], "Get") == (
        ("name", "shelves/s"),
        ("rest", "a/b"),
    )


@pytest.mark.parametrize(
    ("template", "segments", "verb"),
    [
        ("/v1/{id}", ["v1", "x"], "get"),  # a verb the template does not have
        ("/v1/{id}:get", ["v1", "x"], None),  # a verb the template needs
        ("/v1/{id}:get", ["v1", "x"], "GET"),  # verbs are case-sensitive
        ("/v1/{id}", ["v1", "x", "y"], None),  # too many segments
        ("/v1/{id}", ["v1"], None),  # too few
        ("/v1/{id}", ["v1", ""], None),  # "*" never matches an empty segment
        ("/v1/x", ["v1", "x", ""], None),  # a trailing slash
        ("/v1/**", ["v1", "a", "", "b"], None),  # nor does "**" cross one
        ("/v1/**", ["v1", ""], None),
        ("/v1/a%2Fb", ["v1", "a", "b"], None),  # an escaped slash is not a separator
        ("/v1/x", ["V1", "x"], None),  # literals are case-sensitive
    ],
)
def test_program_rejects(template: str, segments: list[str], verb: str | None) -> None:
    assert compile_template(parse_template(template)).match(segments, verb) is None


@pytest.mark.parametrize(
    ("template", "segments"),
    [
        ("/v1/~x", ["%76%31", "%7ex"]),  # escapes of unreserved characters are decoded before comparing
        ("/v1/a%2Fb", ["v1", "a%2fb"]),  # other escapes compare case-insensitively
        ("/v1/%61", ["v1", "a"]),
    ],
)
def test_literal_normalisation(template: str, segments: list[str]) -> None:
    assert compile_template(parse_template(template)).match(segments, None) == ()


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("abc", "abc"), ("%41%7e%2f", "A~%2F"), ("%zz%", "%zz%"), ("%2", "%2"), ("%E2%9C%93", "%E2%9C%93")],
)
def test_normalize_segment(raw: str, normalised: str) -> None:
    assert normalize_segment(raw) == normalised


@pytest.mark.parametrize(
    ("path", "segments", "verb"),
    [
        ("/", [], None),
        ("/v1", ["v1"], None),
        ("/v1/players:search", ["v1", "players"], "search"),
        ("/v1/a:b:c", ["v1", "a:b"], "c"),  # the last colon of the last segment
        ("/v1:x/a", ["v1:x", "a"], None),  # only the last segment carries a verb
        ("/v1/a:", ["v1", "a:"], None),  # nothing after the colon: no verb
        ("/v1/:x", ["v1", ""], "x"),
        ("/v1/a%3Ab", ["v1", "a%3Ab"], None),  # an escaped colon is data
        ("/v1//a/", ["v1", "", "a", ""], None),
    ],
)
def test_split_path(path: str, segments: list[str], verb: str | None) -> None:
    assert split_path(path) == (segments, verb)


def test_split_path_needs_leading_slash() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        split_path("v1/x")


@pytest.mark.parametrize(
    ("raw", "multi", "decoded"),
    [
        ("plain", False, "plain"),
        ("a%2Fb", False, "a/b"),  # single segment: fully decoded
        ("a%2Fb", True, "a%2Fb"),  # multi segment: %2F stays
        ("a%2fb", True, "a%2fb"),  # ... in either case
        ("a/b%2F%20c", True, "a/b%2F c"),
        ("hello%20world", False, "hello world"),
        ("%E2%9C%93", False, "✓"),
        ("%e2%9c%93", True, "✓"),
        ("a+b", False, "a+b"),  # "+" is not a space in a path
        ("%25", False, "%"),
        ("%252F", True, "%2F"),
        ("✓", False, "✓"),  # a raw non-ASCII character passes through
    ],
)
def test_decode_binding(raw: str, multi: bool, decoded: str) -> None:
    assert decode_binding(raw, multi) == decoded


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("%ZZ", "invalid percent-escape at offset 0"),
        ("ab%2", "invalid percent-escape at offset 2"),
        ("ab%", "invalid percent-escape at offset 2"),
        ("%C3%28", "not UTF-8 after percent-decoding (invalid continuation byte)"),
        ("%FF", "not UTF-8 after percent-decoding (invalid start byte)"),
    ],
)
@pytest.mark.parametrize("multi", [False, True])
def test_decode_binding_errors(raw: str, reason: str, multi: bool) -> None:
    with pytest.raises(PathDecodeError) as caught:
        decode_binding(raw, multi, field_path="player_id")
    assert caught.value.reason == reason
    assert caught.value.field_path == "player_id"
    assert str(caught.value) == f"path variable 'player_id' has an invalid value {raw!r}: {reason}"
    assert isinstance(caught.value, ValueError)


def test_decode_bindings_uses_each_variables_kind() -> None:
    template = parse_template("/v1/{id}/{path=**}")
    raw = compile_template(template).match(["v1", "a%2Fb", "c%2Fd", "e"], None)
    assert raw == (("id", "a%2Fb"), ("path", "c%2Fd/e"))
    assert decode_bindings(template, raw) == (("id", "a/b"), ("path", "c%2Fd/e"))
    with pytest.raises(PathDecodeError, match="path variable 'id'"):
        decode_bindings(template, (("id", "%C3%28"),))


# --- properties ---------------------------------------------------------------------------------------

GRAMMAR_CHARS = "/{}=*:.%_-~aZ09é \x00"


@given(
    st.one_of(st.text(), st.text(alphabet=GRAMMAR_CHARS), st.text(alphabet=GRAMMAR_CHARS).map("/".__add__))
)
def test_parse_raises_only_template_error(text: str) -> None:
    column: int | None = None
    try:
        compile_template(parse_template(text))  # whatever parses, compiles
    except TemplateError as error:
        column = error.column
    assert column is None or 0 <= column <= len(text)


UNRESERVED = "abcXYZ019-._~"
literals = st.text(alphabet=UNRESERVED, min_size=1, max_size=4)
# raw segment values as a client might send them: pchars, escapes and colons included
values = st.text(alphabet=UNRESERVED + "%20:@!$&'()+,;=", min_size=1, max_size=6).filter(
    lambda v: "%" not in v.replace("%20", "")
)


@st.composite
def template_and_path(draw: st.DrawFn) -> tuple[str, list[str], str | None, dict[str, str]]:
    """A valid template, a path it matches, and the raw value each variable must bind."""
    parts: list[str] = []
    segments: list[str] = []
    expected: dict[str, str] = {}
    for n in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["literal", "*", "var"]))
        if kind == "literal":
            parts.append(lit := draw(literals))
            segments.append(lit)
        elif kind == "*":
            parts.append("*")
            segments.append(draw(values))
        else:
            inner = draw(st.lists(st.one_of(literals, st.just("*")), min_size=1, max_size=3))
            own = [seg if seg != "*" else draw(values) for seg in inner]
            parts.append(f"{{f{n}.x={'/'.join(inner)}}}")
            segments.extend(own)
            expected[f"f{n}.x"] = "/".join(own)
    tail = draw(st.sampled_from([None, "**", "var"]))
    if tail is not None or not parts:
        rest = draw(st.lists(values, max_size=3))
        parts.append("**" if tail != "var" else "{tail=**}")
        segments.extend(rest)
        if tail == "var":
            expected["tail"] = "/".join(rest)
    verb = draw(st.one_of(st.none(), literals))
    text = "/" + "/".join(parts) + (f":{verb}" if verb else "")
    return text, segments, verb, expected


@given(template_and_path())
def test_match_round_trip(case: tuple[str, list[str], str | None, dict[str, str]]) -> None:
    text, segments, verb, expected = case
    template = parse_template(text)
    assert template.text == text
    bindings = compile_template(template).match(segments, verb)
    assert bindings is not None
    assert dict(bindings) == expected
    assert [field for field, _ in bindings] == [v.field_path for v in template.variables]
    if segments:  # through split_path too ("/" and a verb alone has no segment to carry it)
        assert match(text, "/" + "/".join(segments) + (f":{verb}" if verb else "")) == bindings


@given(st.text(st.characters(codec="utf-8"), min_size=1))
def test_decode_round_trip_single(value: str) -> None:
    assert decode_binding(quote(value, safe=""), multi_segment=False) == value


@given(st.lists(st.text(st.characters(codec="utf-8"), min_size=1), min_size=1))
def test_decode_round_trip_multi(parts: list[str]) -> None:
    raw = "/".join(quote(part, safe="") for part in parts)
    assert decode_binding(raw, multi_segment=True) == "/".join(p.replace("/", "%2F") for p in parts)
