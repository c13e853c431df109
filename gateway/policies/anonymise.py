"""Research access: a researcher reaches only anonymised data (R4.4), the same on every door.

A principal is *research-only* when its roles (after the hierarchy) include ``researcher`` and none
of the roles entitled to identified data: ``therapist``, ``clinical_supervisor`` (their caseload),
``admin`` (platform operations on accounts), ``service`` (a TTA service acting for a player) and
``moderator`` (acting on reported accounts). ``player`` does not exempt: a player is entitled only to
their own records, and an answer may hold other players' (a listing the upstream scoped for the
researcher), so a token holding both is answered as research (decision 0012).

For a research-only principal every response message, each message of a stream too, leaves the
gateway with

- every field the contract marks ``(tta.gateway.v1.field_policy).phi`` cleared, and
- every field it marks ``owner`` (the owning player's id) replaced by a pseudonym: ``ps_`` and 32 hex
  digits of HMAC-SHA256 under a key only the gateway holds. The same id gives the same pseudonym on
  every call, door and process that shares the key, so a study can follow one player without
  learning who they are; without the key, enumerating player ids does not reverse it.

The fields come from the route's response ``FieldPlan``; no method is named here. The step joins only
routes whose responses have such fields (and that are not public: a public answer is what anyone may
read), and it decodes a message only for a research-only principal: everyone else's answers pass as
raw bytes. Which methods a researcher may call at all is the contract's ``roles``; a researcher's
request naming a player (an ``owner`` field) is refused by the ownership step before this one sees
anything.

What it does not do: fields not marked ``phi`` pass as they are, free text included (a milestone's
title, a participant's display name), and so do identifiers not marked ``owner`` (session, therapist
or character ids) and timestamps; error details and metadata are not touched. The marks are the
contract authors' promise (decision 0012).

The key: ``pseudonym_key(secret)`` derives it from a configured secret (``keyed``), so pseudonyms stay
stable across restarts and processes. The derivation separates it from the log redactor's hashes
under the same secret, so a pseudonym never equals a value's hash in a log line. Without a secret
the key is drawn once per process, and a warning says that pseudonyms will change with the process.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from gateway.chain.call import Call, MessageView
from gateway.chain.chain import Step
from gateway.routes import AuthMode, FieldPlan, Route

log = logging.getLogger(__name__)

RESEARCH_ROLE = "researcher"
ENTITLED_ROLES = frozenset({"therapist", "clinical_supervisor", "admin", "service", "moderator"})
PSEUDONYM_PREFIX = "ps_"

_DOMAIN = b"tta-gateway research pseudonym v1"
_PROCESS_KEY = secrets.token_bytes(32)  # only when no secret is configured: see Anonymise.keyed


def research_only(roles: frozenset[str]) -> bool:
    """Whether a principal with these (expanded) roles may see only anonymised data."""
    return RESEARCH_ROLE in roles and not roles & ENTITLED_ROLES


def pseudonym_key(secret: bytes) -> bytes:
    """The pseudonym key of a configured secret. Domain-separated: the log redactor's HMAC under the
    same secret gives unrelated values, so log lines and research data cannot be joined on them."""
    return hmac.new(secret, _DOMAIN, hashlib.sha256).digest()


def pseudonym(key: bytes, value: str) -> str:
    """A stable stand-in for an identifier: ``ps_`` + 128 bits of HMAC-SHA256(key, value), in hex."""
    return _pseudonym(_prepared(key), value)


def _prepared(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def _pseudonym(mac: hmac.HMAC, value: str) -> str:
    """``pseudonym`` with the key's HMAC prepared once and copied per value (the key schedule is paid
    once per step, not once per identifier)."""
    one = mac.copy()
    one.update(value.encode())
    return PSEUDONYM_PREFIX + one.hexdigest()[:32]


def anonymised(message: Message, fields: FieldPlan, key: bytes) -> Message:
    """A copy of ``message`` with the ``phi`` paths of ``fields`` cleared and its ``owner`` paths
    pseudonymised (``message`` itself is left as it was). Paths are the field plan's dotted paths; a
    repeated message or a map's message values are followed element by element."""
    return _anonymised(message, _marks(fields), _prepared(key))


def _anonymised(message: Message, marks: _Marks, mac: hmac.HMAC) -> Message:
    out = type(message)()
    out.CopyFrom(message)
    _apply(out, marks, mac)
    return out


@dataclass(frozen=True, slots=True)
class _Marks:
    """The marked paths below one message type as a tree, so that a message is walked once however many
    paths run through it (a listing's elements are visited once, not once per marked field)."""

    clear: tuple[str, ...]  # field names cleared here (phi)
    rename: tuple[str, ...]  # field names whose ids are pseudonymised here (owner)
    below: Mapping[str, _Marks]  # field names to descend into: a message, repeated message or map


@functools.lru_cache(maxsize=256)
def _marks(fields: FieldPlan) -> _Marks:
    """The tree of one route's plan, built once (a plan is immutable and hashable)."""
    return _tree([p.split(".") for p in fields.phi], [p.split(".") for p in fields.owner])


def _tree(phi: Sequence[Sequence[str]], owner: Sequence[Sequence[str]]) -> _Marks:
    clear = {p[0] for p in phi if len(p) == 1}
    rename = {p[0] for p in owner if len(p) == 1} - clear  # cleared already: nothing left to rename
    heads = {p[0] for p in (*phi, *owner) if len(p) > 1} - clear  # below a cleared field: nothing left
    below = {
        head: _tree(
            [p[1:] for p in phi if len(p) > 1 and p[0] == head],
            [p[1:] for p in owner if len(p) > 1 and p[0] == head],
        )
        for head in sorted(heads)
    }
    return _Marks(tuple(sorted(clear)), tuple(sorted(rename)), MappingProxyType(below))


def _apply(message: Message, marks: _Marks, mac: hmac.HMAC) -> None:
    fields = cast(Descriptor, message.DESCRIPTOR).fields_by_name  # the stubs allow upb's type too
    for name in marks.clear:
        message.ClearField(name)
    for name in marks.rename:
        _pseudonymise(message, fields[name], mac)
    for name, inner in marks.below.items():
        field = fields[name]
        value = getattr(message, name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entry = field.message_type.fields_by_name["value"]
            if (
                entry.message_type is not None
                and set(inner.below) == {"value"}
                and not (inner.clear or inner.rename)
            ):
                for item in value.values():
                    _apply(item, inner.below["value"], mac)
            else:  # a mark the walk cannot follow inside a map: nothing of the map may pass
                message.ClearField(name)
        elif field.is_repeated:
            for item in value:
                _apply(item, inner, mac)
        elif message.HasField(name):  # never create an absent sub-message
            _apply(value, inner, mac)


def _pseudonymise(message: Message, field: FieldDescriptor, mac: hmac.HMAC) -> None:
    if field.type != FieldDescriptor.TYPE_STRING:  # an owner mark on something else: drop it
        message.ClearField(field.name)
        return
    if field.is_repeated:
        ids = getattr(message, field.name)
        replaced = [_pseudonym(mac, v) if v else v for v in ids]
        del ids[:]
        ids.extend(replaced)
        return
    value = getattr(message, field.name)
    if value:  # an empty id stays empty: "not set" is no one
        setattr(message, field.name, _pseudonym(mac, value))


class Anonymise(Step):
    name = "anonymise"

    def __init__(self, key: bytes, fields: FieldPlan | None = None) -> None:
        self.key = key
        self.fields = fields
        self._mac = _prepared(key)
        self._marks = _marks(fields) if fields is not None else None  # compiled once per route

    @classmethod
    def keyed(cls, secret: str) -> Anonymise:
        """The step with the key of a configured secret (stable across processes and restarts), or,
        when there is none, with a key drawn once per process and a warning saying so."""
        if secret:
            return cls(pseudonym_key(secret.encode()))
        log.warning(
            "no secret configured for research pseudonyms (log.hash_salt): they are keyed per process "
            "and change on restart and between processes; set TTA_GATEWAY__LOG__HASH_SALT from a secret"
        )
        return cls(_PROCESS_KEY)

    def for_route(self, route: Route) -> Step | None:
        marked = route.response_fields
        if not (marked.phi or marked.owner) or route.policy.auth is AuthMode.NONE:
            return None
        return Anonymise(self.key, FieldPlan(phi=marked.phi, owner=marked.owner))

    async def on_response(self, call: Call, view: MessageView) -> None:
        principal = call.principal
        if principal is None or not research_only(principal.roles) or self._marks is None:
            return  # everyone else's answer passes as it came, undecoded
        view.replace(_anonymised(view.message, self._marks, self._mac))
