"""The WebSocket door's routes, compiled from the contracts' ``websocket: {path: ...}`` method option.

Pure: a function of the route table, the plans, the descriptor pool and the REST router, run by
``build_snapshot`` at start-up and on every reload, so a contract whose WebSocket path collides with
a REST route (or with another WebSocket path) is refused with a ``ConfigError`` naming both templates,
and the running snapshot stays.

A WebSocket path is a ``google.api.http`` path template (``/ws/v1/sessions/{session_id}/chat``); its
variables fill the request message's fields like a REST binding's do. Two templates collide when some
path could match both: checked by matching a sample path of each template (each variable a plain
segment) against the other router, which catches identical templates and a variable against a
literal in either direction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from gateway.chain.chain import Plans, RoutePlan
from gateway.errors import ConfigError
from gateway.routes import RouteTable
from transcoder.router import MatchKind, RouteConflict, Router, RouterBuilder
from transcoder.template import SegmentKind, Template, TemplateError, parse_template

WS_METHOD = "GET"  # a WebSocket handshake is a GET (RFC 6455 section 4.1)


@dataclass(frozen=True, slots=True)
class WsTarget:
    """One WebSocket path as the door serves it: the template, its route's plan, the message classes."""

    template: Template
    plan: RoutePlan
    request_cls: type[Message]
    response_cls: type[Message]
    label: str  # "WS /ws/v1/sessions/{session_id}/chat": bounded, for metrics and the access line


def sample_path(template: Template) -> str:
    """A concrete path the template matches: each ``*`` or ``**`` one plain segment.

    >>> sample_path(parse_template("/ws/v1/sessions/{session_id}/chat"))
    '/ws/v1/sessions/x/chat'
    """
    parts = [s.text if s.kind is SegmentKind.LITERAL else "x" for s in template.segments]
    return "/" + "/".join(parts) + (f":{template.verb}" if template.verb else "")


def compile_ws_routes(
    table: RouteTable,
    plans: Plans,
    pool: descriptor_pool.DescriptorPool,
    rest: Router[Any],
    rest_templates: Iterable[Template],
) -> Router[WsTarget]:
    """The WebSocket router: every fronted streaming method that declares a WebSocket path.

    Raises ``ConfigError`` naming the templates when a path is malformed or collides with a REST route
    or another WebSocket path."""
    builder: RouterBuilder[WsTarget] = RouterBuilder()
    problems: list[str] = []
    templates: list[Template] = []
    for path, route in sorted(table.routes.items()):
        text = route.policy.websocket_path
        plan = plans.get(path)
        if not text or plan is None:
            continue
        try:
            template = parse_template(text)
        except TemplateError as exc:
            problems.append(f"{path}: websocket path {text!r}: {exc}")
            continue
        clash = rest.match(WS_METHOD, sample_path(template))
        if clash.kind is not MatchKind.NONE:
            other = _which(template, rest_templates)
            problems.append(f"{path}: websocket path {text} collides with the REST route {other}")
            continue
        target = WsTarget(
            template,
            plan,
            message_factory.GetMessageClass(pool.FindMessageTypeByName(route.input_type)),
            message_factory.GetMessageClass(pool.FindMessageTypeByName(route.output_type)),
            f"WS {text}",
        )
        try:
            builder.add(WS_METHOD, template, target)
        except RouteConflict as exc:
            problems.append(f"{path}: websocket path {text}: {exc}")
            continue
        templates.append(template)
    router = builder.build()
    for rest_template in rest_templates:  # the other direction: a REST variable over a WS literal
        hit = router.match(WS_METHOD, sample_path(rest_template))
        if hit.kind is MatchKind.FULL and hit.target is not None:
            problems.append(
                f"{hit.target.plan.route.path}: websocket path {hit.target.template.text} collides "
                f"with the REST route {rest_template.text}"
            )
    if problems:
        raise ConfigError("websocket routes: " + "; ".join(problems))
    return router


def _which(template: Template, rest_templates: Iterable[Template]) -> str:
    """The REST template a WebSocket template collides with (only on the error path: a router each)."""
    sample = sample_path(template)
    for candidate in rest_templates:
        one: RouterBuilder[bool] = RouterBuilder()
        one.add(WS_METHOD, candidate, True)
        if one.build().match(WS_METHOD, sample).kind is MatchKind.FULL:
            return candidate.text
    return "a REST route"
