"""``google.api.http`` path templates: parse once, compile to a flat program, match many times.

Grammar: google/api/http.proto, "Path template syntax" (``Template = "/" Segments [ Verb ]``, ...).
IDENT is ``[A-Za-z_][A-Za-z0-9_]*``. Representation: a template is a flat tuple of segments (literal, ``*`` or ``**``); a variable is a
half-open span ``[start, end)`` over those segments, since variables never nest. ``{var}`` is
``{var=*}``. The template ``"/"`` alone is accepted and matches the root path only.

Example::

    >>> parse_template("/v1/{name=messages/*}:get")
    Template(segments=(Segment(kind=LITERAL, text='v1'), Segment(kind=LITERAL, text='messages'),
                       Segment(kind=SINGLE, text='*')),
             verb='get', variables=(Variable(field_path='name', start=1, end=3, multi_segment=True),),
             text='/v1/{name=messages/*}:get')
    >>> compile_template(_).match(["v1", "messages", "123"], "get")
    (('name', 'messages/123'),)

Matching (see ``Program``) works on raw, still percent-encoded segments and returns raw values;
``decode_binding`` decodes them afterwards, per http.proto:

- a single-segment variable (``{var}``, ``{var=*}``, ``{var=lit}``) is fully percent-decoded;
- a multi-segment variable (several segments, or ``**``) is decoded except ``%2F``/``%2f``, which stay
  as they are so that an encoded slash remains distinguishable from a segment separator.

Literals (and verbs) are compared after RFC 3986 section 6.2.2 normalisation of both sides: escapes of
unreserved characters are decoded (``%7E`` is ``~``) and the hex digits of the other escapes are
upper-cased (``%2f`` is ``%2F``). Reserved characters are never decoded for the comparison, so a literal
``a%2Fb`` matches the segment ``a%2fb`` but never two segments ``a/b``. Literals may contain only
unreserved characters and percent-escapes; ``+`` is not a space in a path.

Request paths (raw: ASGI ``raw_path``, not the decoded ``path``): an empty segment never matches (not
a literal, ``*`` nor inside ``**``): ``/v1//x`` and ``/v1/x/`` do not match (grpc-gateway's default).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

Bindings = tuple[tuple[str, str], ...]
"""(field path, raw value) pairs, in template order."""

_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGIT = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_UNRESERVED = _ALPHA | _DIGIT | frozenset("-._~")  # RFC 3986 section 2.3
_IDENT_START = _ALPHA | {"_"}
_IDENT_REST = _IDENT_START | _DIGIT


class TemplateError(ValueError):
    """A path template that does not follow the grammar; ``column`` is 0-based."""

    def __init__(self, template: str, column: int, reason: str) -> None:
        super().__init__(f"invalid path template {template!r} at column {column}: {reason}")
        self.template = template
        self.column = column
        self.reason = reason


class PathDecodeError(ValueError):
    """A bound path value that cannot be decoded (a bad percent-escape or not UTF-8): a 400."""

    def __init__(self, field_path: str | None, value: str, reason: str) -> None:
        where = f"path variable {field_path!r}" if field_path else "path variable"
        super().__init__(f"{where} has an invalid value {value!r}: {reason}")
        self.field_path = field_path
        self.value = value
        self.reason = reason


class SegmentKind(enum.Enum):
    LITERAL = "literal"
    SINGLE = "*"
    MULTI = "**"

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    text: str  # the literal as written, or "*" / "**"


@dataclass(frozen=True, slots=True)
class Variable:
    field_path: str  # dotted, e.g. "sub.subfield"
    start: int  # index of the variable's first segment in Template.segments
    end: int  # one past its last segment
    multi_segment: bool  # several segments or a "**": decoded keeping %2F


@dataclass(frozen=True, slots=True)
class Template:
    segments: tuple[Segment, ...]
    verb: str | None
    variables: tuple[Variable, ...]
    text: str


def _escape_at(text: str, i: int) -> str | None:
    """The two hex digits of a well-formed ``%XX`` at ``text[i]``, else ``None``."""
    pair = text[i + 1 : i + 3]
    return pair if len(pair) == 2 and pair[0] in _HEX and pair[1] in _HEX else None


def normalize_segment(segment: str) -> str:
    """Decode escapes of unreserved characters and upper-case the others' hex (RFC 3986 6.2.2)."""
    if "%" not in segment:
        return segment
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        if c == "%" and (pair := _escape_at(segment, i)) is not None:
            char = chr(int(pair, 16))
            out.append(char if char in _UNRESERVED else "%" + pair.upper())
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


class _Parser:
    """Recursive descent over the grammar above; every error names the column where it was found."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.segments: list[Segment] = []
        self.variables: list[Variable] = []
        self.multi_at: int | None = None  # column of a "**" seen, which must end the segments

    def fail(self, reason: str, column: int | None = None) -> TemplateError:
        return TemplateError(self.text, self.pos if column is None else column, reason)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> Template:
        if self.peek() != "/":
            raise self.fail("a template must start with '/'")
        self.pos += 1
        if self.text == "/":  # the root path, which the grammar cannot otherwise express
            return Template((), None, (), self.text)
        self.parse_segments(in_variable=False)
        verb: str | None = None
        if self.peek() == ":":
            self.pos += 1
            verb = self.parse_literal("verb")
        if self.peek() == "}":
            raise self.fail("'}' without a matching '{'")
        if self.pos < len(self.text):
            raise self.fail(f"unexpected {self.peek()!r} after the {'verb' if verb else 'segments'}")
        return Template(tuple(self.segments), verb, tuple(self.variables), self.text)

    def parse_segments(self, *, in_variable: bool) -> None:
        while True:
            self.parse_segment(in_variable=in_variable)
            if self.peek() != "/":
                return
            self.pos += 1

    def parse_segment(self, *, in_variable: bool) -> None:
        start = self.pos
        if self.multi_at is not None:
            raise self.fail('"**" must be the last segment', self.multi_at)
        c = self.peek()
        if c == "*":
            if self.text.startswith("**", self.pos):
                self.pos += 2
                self.multi_at = start
                self.segments.append(Segment(SegmentKind.MULTI, "**"))
            else:
                self.pos += 1
                self.segments.append(Segment(SegmentKind.SINGLE, "*"))
        elif c == "{":
            if in_variable:
                raise self.fail("variables must not be nested")
            self.parse_variable()
        elif c == "}" and not in_variable:
            raise self.fail("'}' without a matching '{'")
        elif c in ("", "/", ":", "}"):
            raise self.fail("empty segment")
        else:
            self.segments.append(Segment(SegmentKind.LITERAL, self.parse_literal("literal")))
        nxt = self.peek()
        if nxt == "{":
            raise self.fail(
                "variables must not be nested" if in_variable else "a variable must be a whole segment"
            )
        if nxt not in ("", "/", ":", "}"):
            raise self.fail(f"unexpected {nxt!r} after a segment")

    def parse_variable(self) -> None:
        brace = self.pos
        self.pos += 1
        name_at = self.pos
        field_path = self.parse_field_path()
        if any(v.field_path == field_path for v in self.variables):
            raise self.fail(f"field {field_path!r} is bound twice", name_at)
        first = len(self.segments)
        if self.peek() not in ("", "=", "}"):
            raise self.fail(f"invalid character {self.peek()!r} in field path")
        if self.peek() == "=":
            self.pos += 1
            self.parse_segments(in_variable=True)
        else:
            self.segments.append(Segment(SegmentKind.SINGLE, "*"))  # {var} means {var=*}
        if not self.peek():
            raise self.fail("'{' without a matching '}'", brace)
        if self.peek() != "}":
            raise self.fail(f"unexpected {self.peek()!r} in a variable")
        self.pos += 1
        own = self.segments[first:]
        multi = len(own) > 1 or own[0].kind is SegmentKind.MULTI
        self.variables.append(Variable(field_path, first, len(self.segments), multi))

    def parse_field_path(self) -> str:
        names = [self.parse_ident()]
        while self.peek() == ".":
            self.pos += 1
            names.append(self.parse_ident())
        return ".".join(names)

    def parse_ident(self) -> str:
        start = self.pos
        if self.peek() not in _IDENT_START or not self.peek():
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected an identifier ([A-Za-z_][A-Za-z0-9_]*), found {found}")
        while self.peek() and self.peek() in _IDENT_REST:
            self.pos += 1
        return self.text[start : self.pos]

    def parse_literal(self, what: str) -> str:
        start = self.pos
        while (c := self.peek()) and c not in "/:{}=*":
            if c == "%":
                if _escape_at(self.text, self.pos) is None:
                    raise self.fail(f"invalid percent-escape in {what}")
                self.pos += 3
            elif c in _UNRESERVED:
                self.pos += 1
            else:
                raise self.fail(f"invalid character {c!r} in {what} (unreserved or %XX only)")
        if self.pos == start:
            raise self.fail(f"empty {what}")
        return self.text[start : self.pos]


def parse_template(text: str) -> Template:
    """Parse a ``google.api.http`` path template; raise ``TemplateError`` (template, column, reason)."""
    return _Parser(text).parse()


class OpCode(enum.Enum):
    LITERAL = "literal"  # consume one segment equal (after normalisation) to the operand
    ANY = "any"  # consume one non-empty segment
    ANY_REST = "any-rest"  # consume every remaining segment (zero or more, none empty)
    BEGIN = "begin"  # start capturing for the operand's field path
    END = "end"  # bind the segments consumed since BEGIN, joined by "/"


@dataclass(frozen=True, slots=True)
class Op:
    code: OpCode
    operand: str = ""


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled template: a flat list of ops run once over the split path.

    Example: ``/v1/{name=shelves/*}/books:get`` compiles to
    ``LITERAL v1, BEGIN name, LITERAL shelves, ANY, END name, LITERAL books`` with verb ``get``;
    ``match(["v1", "shelves", "s1", "books"], "get")`` is ``(("name", "shelves/s1"),)``.
    """

    ops: tuple[Op, ...]
    verb: str | None  # normalised
    template: Template

    def match(self, segments: Sequence[str], verb: str | None) -> Bindings | None:
        """The raw bindings if the raw segments and verb match the whole template, else ``None``."""
        if (verb if verb is None else normalize_segment(verb)) != self.verb:
            return None
        pos, n, start = 0, len(segments), 0
        bindings: list[tuple[str, str]] = []
        for op in self.ops:
            if op.code is OpCode.LITERAL:
                if pos >= n or normalize_segment(segments[pos]) != op.operand:
                    return None
                pos += 1
            elif op.code is OpCode.ANY:
                if pos >= n or not segments[pos]:
                    return None
                pos += 1
            elif op.code is OpCode.ANY_REST:
                if not all(segments[pos:]):
                    return None
                pos = n
            elif op.code is OpCode.BEGIN:
                start = pos
            else:
                bindings.append((op.operand, "/".join(segments[start:pos])))
        return tuple(bindings) if pos == n else None


def compile_template(template: Template) -> Program:
    """Compile a parsed template into a ``Program`` (see its docstring for an example)."""
    # Variables never nest and span at least one segment: at most one begins, one ends, at an index.
    begins = {v.start: v.field_path for v in template.variables}
    ends = {v.end: v.field_path for v in template.variables}
    ops: list[Op] = []
    for i, segment in enumerate(template.segments):
        if i in ends:
            ops.append(Op(OpCode.END, ends[i]))
        if i in begins:
            ops.append(Op(OpCode.BEGIN, begins[i]))
        if segment.kind is SegmentKind.LITERAL:
            ops.append(Op(OpCode.LITERAL, normalize_segment(segment.text)))
        elif segment.kind is SegmentKind.SINGLE:
            ops.append(Op(OpCode.ANY))
        else:
            ops.append(Op(OpCode.ANY_REST))
    if len(template.segments) in ends:
        ops.append(Op(OpCode.END, ends[len(template.segments)]))
    verb = None if template.verb is None else normalize_segment(template.verb)
    return Program(tuple(ops), verb, template)


def split_path(path: str) -> tuple[list[str], str | None]:
    """Split a raw request path into raw segments and a verb.

    The verb is the text after the last ``:`` of the last segment (http.proto), or ``None`` when that
    segment has no colon or nothing follows it. Whether a verb was really meant is for the router to
    decide: it tries the split form first, then the whole last segment. ``"/"`` has no segments; other
    empty segments are kept (and never match).

    >>> split_path("/v1/players:search")
    (['v1', 'players'], 'search')
    >>> split_path("/v1/a//b/")
    (['v1', 'a', '', 'b', ''], None)
    """
    if not path.startswith("/"):
        raise ValueError(f"a request path must start with '/': {path!r}")
    if path == "/":
        return [], None
    segments = path[1:].split("/")
    head, colon, verb = segments[-1].rpartition(":")
    if not colon or not verb:
        return segments, None
    segments[-1] = head
    return segments, verb


def decode_binding(value: str, multi_segment: bool, *, field_path: str | None = None) -> str:
    """Percent-decode a raw bound value as UTF-8; a multi-segment value keeps ``%2F``/``%2f``. Raises
    ``PathDecodeError`` (a ``ValueError`` naming ``field_path``) for a bad ``%XX`` or bytes not UTF-8.

    >>> decode_binding("a%20b%2Fc", multi_segment=False)
    'a b/c'
    >>> decode_binding("a%20b%2Fc", multi_segment=True)
    'a b%2Fc'
    """
    if "%" not in value:
        return value
    out = bytearray()
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c != "%":
            out += c.encode("utf-8", "surrogatepass")
            i += 1
            continue
        pair = _escape_at(value, i)
        if pair is None:
            raise PathDecodeError(field_path, value, f"invalid percent-escape at offset {i}")
        if multi_segment and pair in ("2F", "2f"):
            out += b"%" + pair.encode("ascii")
        else:
            out.append(int(pair, 16))
        i += 3
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PathDecodeError(field_path, value, f"not UTF-8 after percent-decoding ({exc.reason})") from exc


def decode_bindings(template: Template, bindings: Bindings) -> Bindings:
    """Decode every raw binding of a match against ``template`` (see ``decode_binding``)."""
    multi = {v.field_path: v.multi_segment for v in template.variables}
    return tuple(
        (field, decode_binding(raw, multi.get(field, True), field_path=field)) for field, raw in bindings
    )
