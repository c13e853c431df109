"""The `deadlines` section: defaults, the method → service → global lookup of `for_route`, the checks
on values, route keys and default-versus-cap, and the keys that moved here from `http`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.config import DeadlineSettings, RouteDeadline, Settings, load_settings
from gateway.errors import ConfigError
from tests.unit.gateway.config._support import NO_ENV, problems, write

GET_PLAYER = ("/tta.v1.PlayerService/GetPlayer", "tta.v1.PlayerService")
CHAT = ("/tta.v1.ChatService/Chat", "tta.v1.ChatService")
SEND = ("/tta.v1.ChatService/SendMessage", "tta.v1.ChatService")

# The example of docs/configuration.md.
EXAMPLE: dict[str, Any] = {
    "default_seconds": 30,
    "stream_default_seconds": 0,
    "max_seconds": 300,
    "routes": {
        "/tta.v1.PlayerService/GetPlayer": {"default_seconds": 5},
        "tta.v1.ChatService": {"default_seconds": 60, "max_seconds": 3600},
    },
}


def test_defaults() -> None:
    deadlines = Settings().deadlines
    assert deadlines == DeadlineSettings(
        default_seconds=30.0, stream_default_seconds=0.0, max_seconds=300.0, routes={}
    )
    assert deadlines.for_route(*GET_PLAYER, streaming_response=False) == (30.0, 300.0)
    assert deadlines.for_route(*CHAT, streaming_response=True) == (None, 300.0)


def test_yaml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
deadlines:
  default_seconds: 30
  stream_default_seconds: 0
  max_seconds: 300
  routes:
    "/tta.v1.PlayerService/GetPlayer": {default_seconds: 5}
    "tta.v1.ChatService": {default_seconds: 60, max_seconds: 3600}
""",
    )
    deadlines = load_settings(path, environ=NO_ENV).deadlines
    assert deadlines == DeadlineSettings.model_validate(EXAMPLE)
    assert deadlines.routes == {
        "/tta.v1.PlayerService/GetPlayer": RouteDeadline(default_seconds=5),
        "tta.v1.ChatService": RouteDeadline(default_seconds=60, max_seconds=3600),
    }


def test_environment() -> None:
    environ = {
        "TTA_GATEWAY__DEADLINES__DEFAULT_SECONDS": "10",
        "TTA_GATEWAY__DEADLINES__STREAM_DEFAULT_SECONDS": "120",
        "TTA_GATEWAY__DEADLINES__ROUTES": '{"tta.v1.ChatService": {"max_seconds": 0}}',
    }
    deadlines = load_settings(environ=environ).deadlines
    assert (deadlines.default_seconds, deadlines.stream_default_seconds) == (10.0, 120.0)
    assert deadlines.for_route(*CHAT, streaming_response=True) == (120.0, None)


# --- for_route --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadlines", "method", "streaming", "expected"),
    [
        # the global keys: default_seconds or stream_default_seconds by the kind of method
        ({}, GET_PLAYER, False, (30.0, 300.0)),
        ({}, CHAT, True, (None, 300.0)),
        ({"stream_default_seconds": 600, "max_seconds": 0}, CHAT, True, (600.0, None)),
        ({"default_seconds": 0, "max_seconds": 0}, GET_PLAYER, False, (None, None)),
        # a method's entry; the value it does not set comes from the global key
        (EXAMPLE, GET_PLAYER, False, (5.0, 300.0)),
        (EXAMPLE, ("/tta.v1.PlayerService/ListPlayers", "tta.v1.PlayerService"), False, (30.0, 300.0)),
        # a service's entry applies to its methods of both kinds
        (EXAMPLE, CHAT, True, (60.0, 3600.0)),
        (EXAMPLE, SEND, False, (60.0, 3600.0)),
        # a method's entry beats its service's, value by value
        (
            {**EXAMPLE, "routes": {**EXAMPLE["routes"], CHAT[0]: {"default_seconds": 0}}},
            CHAT,
            True,
            (None, 3600.0),
        ),
        (
            {**EXAMPLE, "routes": {**EXAMPLE["routes"], CHAT[0]: {"max_seconds": 120}}},
            CHAT,
            True,
            (60.0, 120.0),
        ),
        (
            {**EXAMPLE, "routes": {**EXAMPLE["routes"], CHAT[0]: {"default_seconds": 5, "max_seconds": 10}}},
            SEND,
            False,
            (60.0, 3600.0),
        ),
        # a service entry that sets only the cap: the default is the global one for the kind
        ({"routes": {"tta.v1.ChatService": {"max_seconds": 3600}}}, CHAT, True, (None, 3600.0)),
        ({"routes": {"tta.v1.ChatService": {"max_seconds": 3600}}}, SEND, False, (30.0, 3600.0)),
        # 0 on a route is "none", not "inherit"
        ({"routes": {"tta.v1.ChatService": {"max_seconds": 0}}}, SEND, False, (30.0, None)),
        # another service's entry does not apply
        (EXAMPLE, ("/tta.v1.ChatServiceV2/Chat", "tta.v1.ChatServiceV2"), True, (None, 300.0)),
    ],
)
def test_for_route(
    deadlines: dict[str, Any],
    method: tuple[str, str],
    streaming: bool,
    expected: tuple[float | None, float | None],
) -> None:
    settings = DeadlineSettings.model_validate(deadlines)
    assert settings.for_route(*method, streaming_response=streaming) == expected


# --- checks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadlines", "expected"),
    [
        ({"default_seconds": -1}, ["deadlines.default_seconds: must be at least 0 (got -1)"]),
        ({"max_seconds": 86401}, ["deadlines.max_seconds: must be at most 86400 (got 86401)"]),
        (
            {"stream_default_seconds": ".inf"},
            ['deadlines.stream_default_seconds: must be a number (got ".inf")'],
        ),
        ({"default_seconds": "soon"}, ['deadlines.default_seconds: must be a number (got "soon")']),
        (
            {"deflt_seconds": 1},
            [
                "deadlines.deflt_seconds: unknown key (known keys: default_seconds, "
                "stream_default_seconds, max_seconds, routes)"
            ],
        ),
        (
            {"routes": ["tta.v1.ChatService"]},
            ['deadlines.routes: must be a mapping (got ["tta.v1.ChatService"])'],
        ),
        (
            {"routes": {"tta.v1.*": {"max_seconds": 1}}},
            [
                'deadlines.routes["tta.v1.*"]: "tta.v1.*" is not a method or a service '
                "(like /tta.v1.PlayerService/GetPlayer or tta.v1.ChatService)"
            ],
        ),
        (
            {"routes": {"/tta.v1.PlayerService": {"max_seconds": 1}}},
            [
                'deadlines.routes["/tta.v1.PlayerService"]: "/tta.v1.PlayerService" is not a method or a '
                "service (like /tta.v1.PlayerService/GetPlayer or tta.v1.ChatService)"
            ],
        ),
        (
            {"routes": {"tta.v1.PlayerService/GetPlayer": {"max_seconds": 1}}},
            [
                'deadlines.routes["tta.v1.PlayerService/GetPlayer"]: "tta.v1.PlayerService/GetPlayer" is '
                "not a method or a service (like /tta.v1.PlayerService/GetPlayer or tta.v1.ChatService)"
            ],
        ),
        (
            {"routes": {"tta.v1.ChatService": 60}},
            ['deadlines.routes["tta.v1.ChatService"]: must be a mapping (got 60)'],
        ),
        (
            {"routes": {"tta.v1.ChatService": {}}},
            ['deadlines.routes["tta.v1.ChatService"]: sets neither default_seconds nor max_seconds'],
        ),
        (
            {"routes": {"tta.v1.ChatService": {"default_seconds": -5}}},
            ['deadlines.routes["tta.v1.ChatService"].default_seconds: must be at least 0 (got -5)'],
        ),
        (
            {"routes": {"tta.v1.ChatService": {"timeout": 5}}},
            [
                'deadlines.routes["tta.v1.ChatService"].timeout: unknown key (known keys: default_seconds, max_seconds)'
            ],
        ),
    ],
)
def test_bad_values(deadlines: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_mapping({"deadlines": deadlines}, source="gateway.yaml")
    assert problems(excinfo) == [f"gateway.yaml: {line}" for line in expected]


@pytest.mark.parametrize(
    ("deadlines", "expected"),
    [
        ({"default_seconds": 400}, "default_seconds (400) is above max_seconds (300)"),
        (
            {"stream_default_seconds": 3600, "max_seconds": 600},
            "stream_default_seconds (3600) is above max_seconds (600)",
        ),
        (
            {"routes": {"tta.v1.ChatService": {"default_seconds": 60, "max_seconds": 30}}},
            'routes["tta.v1.ChatService"].default_seconds (60) is above routes["tta.v1.ChatService"].max_seconds (30)',
        ),
        (
            {"routes": {"tta.v1.ChatService": {"default_seconds": 600}}},
            'routes["tta.v1.ChatService"].default_seconds (600) is above max_seconds (300) '
            '(routes["tta.v1.ChatService"] inherits that cap; give it its own max_seconds)',
        ),
        (
            {"routes": {"tta.v1.ChatService": {"max_seconds": 10}}},
            'default_seconds (30) is above routes["tta.v1.ChatService"].max_seconds (10) '
            '(routes["tta.v1.ChatService"] inherits that default; give it its own default_seconds)',
        ),
        (
            {
                "stream_default_seconds": 120,
                "routes": {
                    "tta.v1.ChatService": {"max_seconds": 3600},
                    CHAT[0]: {"max_seconds": 60},
                },
            },
            'stream_default_seconds (120) is above routes["/tta.v1.ChatService/Chat"].max_seconds (60) '
            '(routes["/tta.v1.ChatService/Chat"] inherits that default; give it its own default_seconds)',
        ),
        (
            {
                "routes": {
                    "tta.v1.ChatService": {"default_seconds": 60, "max_seconds": 3600},
                    CHAT[0]: {"max_seconds": 30},
                }
            },
            'routes["tta.v1.ChatService"].default_seconds (60) is above routes["/tta.v1.ChatService/Chat"].max_seconds (30) '
            '(routes["/tta.v1.ChatService/Chat"] inherits that default; give it its own default_seconds)',
        ),
    ],
)
def test_a_default_above_its_cap_names_both_keys(deadlines: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_mapping({"deadlines": deadlines}, source="gateway.yaml")
    assert problems(excinfo) == [f"gateway.yaml: deadlines: {expected}"]


@pytest.mark.parametrize(
    "deadlines",
    [
        {"default_seconds": 300, "max_seconds": 300},
        {"default_seconds": 600, "max_seconds": 0},  # no cap
        {"default_seconds": 0, "stream_default_seconds": 0, "max_seconds": 1},  # no defaults
        {"routes": {"tta.v1.ChatService": {"max_seconds": 0}}},
        {"routes": {"tta.v1.ChatService": {"default_seconds": 0, "max_seconds": 5}}},
        {"routes": {"tta.v1.ChatService": {"default_seconds": 600, "max_seconds": 0}}},
        {
            "stream_default_seconds": 600,
            "max_seconds": 0,
            "routes": {"tta.v1.ChatService": {"default_seconds": 5, "max_seconds": 60}},
        },
        {"routes": {"PlayerService": {"max_seconds": 30}, "/PlayerService/Get_2": {"max_seconds": 30}}},
    ],
)
def test_good_values(deadlines: dict[str, Any]) -> None:
    Settings.from_mapping({"deadlines": deadlines})


_SECONDS = st.sampled_from([0.0, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0])
_SERVICES = ["tta.v1.ChatService", "tta.v1.PlayerService"]
# Route keys name two services and two methods of each; the methods looked up include one more of
# each, and a service without entries, as a real route table does.
_METHODS = [
    (f"/{service}/{name}", service)
    for service in [*_SERVICES, "tta.v1.WorldService"]
    for name in ("A", "B", "C")
]
_ROUTE_KEYS = _SERVICES + [f"/{service}/{name}" for service in _SERVICES for name in ("A", "B")]


@st.composite
def _deadline_settings(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(_ROUTE_KEYS), unique=True))
    entry = st.fixed_dictionaries({}, optional={"default_seconds": _SECONDS, "max_seconds": _SECONDS})
    routes = {key: draw(entry.filter(bool)) for key in keys}
    return {
        "default_seconds": draw(_SECONDS),
        "stream_default_seconds": draw(_SECONDS),
        "max_seconds": draw(_SECONDS),
        "routes": routes,
    }


@given(_deadline_settings())
def test_settings_that_validate_never_give_a_method_a_default_above_its_cap(data: dict[str, Any]) -> None:
    # Validation checks the global keys and each route key, for both kinds of method; every method
    # resolves like one of those, so no lookup can return a default above its cap.
    try:
        deadlines = DeadlineSettings.model_validate(data)
    except ValidationError:
        return
    for path, service in _METHODS:
        for streaming in (False, True):
            default, cap = deadlines.for_route(path, service, streaming_response=streaming)
            assert default is None or cap is None or default <= cap


@given(_deadline_settings())
def test_a_refusal_is_a_method_whose_default_is_above_its_cap(data: dict[str, Any]) -> None:
    # The converse: validation refuses only settings under which some method would get such a pair.
    try:
        DeadlineSettings.model_validate(data)
    except ValidationError:
        unchecked = DeadlineSettings.model_construct(
            **{**data, "routes": {k: RouteDeadline(**v) for k, v in data["routes"].items()}}
        )
        pairs = [
            unchecked.for_route(path, service, streaming_response=streaming)
            for path, service in _METHODS
            for streaming in (False, True)
        ]
        assert any(d is not None and c is not None and d > c for d, c in pairs)


# --- keys that moved here ---------------------------------------------------------------------------


def test_moved_keys_in_a_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, "http:\n  default_timeout_seconds: 10\n  route_timeouts: {tta.v1.ChatService: 60}\n"
    )
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert problems(excinfo) == [
        f"{path}: http.default_timeout_seconds: moved to deadlines.default_seconds (it now applies to every door)",
        f"{path}: http.route_timeouts: moved to deadlines.routes "
        '(each entry now a mapping, as "tta.v1.PlayerService": {default_seconds: 5})',
    ]


def test_moved_keys_in_a_tta_wide_file(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  http: {default_timeout_seconds: 10}\n", name="tta_config.yaml")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert problems(excinfo) == [
        f"{path}: gateway.http.default_timeout_seconds: moved to gateway.deadlines.default_seconds "
        "(it now applies to every door)"
    ]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"TTA_GATEWAY__HTTP__DEFAULT_TIMEOUT_SECONDS": "10"},
            "environment TTA_GATEWAY__HTTP__DEFAULT_TIMEOUT_SECONDS: http.default_timeout_seconds: "
            "moved to deadlines.default_seconds, set by TTA_GATEWAY__DEADLINES__DEFAULT_SECONDS "
            "(it now applies to every door)",
        ),
        (
            {"TTA_GATEWAY__HTTP__ROUTE_TIMEOUTS": '{"tta.v1.ChatService": 60}'},
            "environment TTA_GATEWAY__HTTP__ROUTE_TIMEOUTS: http.route_timeouts: "
            "moved to deadlines.routes, set by TTA_GATEWAY__DEADLINES__ROUTES "
            '(each entry now a mapping, as "tta.v1.PlayerService": {default_seconds: 5})',
        ),
        (
            {"TTA_GATEWAY__HTTP": '{"port": 8081, "route_timeouts": {"tta.v1.ChatService": 60}}'},
            "environment TTA_GATEWAY__HTTP: http.route_timeouts: "
            "moved to deadlines.routes, set by TTA_GATEWAY__DEADLINES__ROUTES "
            '(each entry now a mapping, as "tta.v1.PlayerService": {default_seconds: 5})',
        ),
    ],
)
def test_moved_keys_in_the_environment(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(environ=environ)
    assert problems(excinfo) == [expected]


def test_http_no_longer_lists_the_moved_keys() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_mapping({"http": {"timeout": 1}})
    assert problems(excinfo) == [
        "settings: http.timeout: unknown key (known keys: host, port, max_body_bytes, "
        "unknown_query_parameters, json_use_proto_names, json_emit_unpopulated, http2, cors)"
    ]
