from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTH_MODE_UNSPECIFIED: _ClassVar[AuthMode]
    AUTH_MODE_REQUIRED: _ClassVar[AuthMode]
    AUTH_MODE_OPTIONAL: _ClassVar[AuthMode]
    AUTH_MODE_NONE: _ClassVar[AuthMode]

class TrafficPriority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAFFIC_PRIORITY_UNSPECIFIED: _ClassVar[TrafficPriority]
    TRAFFIC_PRIORITY_CRISIS: _ClassVar[TrafficPriority]
    TRAFFIC_PRIORITY_THERAPEUTIC_SESSION: _ClassVar[TrafficPriority]
    TRAFFIC_PRIORITY_GAMEPLAY: _ClassVar[TrafficPriority]
    TRAFFIC_PRIORITY_ADMINISTRATIVE: _ClassVar[TrafficPriority]

class CacheScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_SCOPE_UNSPECIFIED: _ClassVar[CacheScope]
    CACHE_SCOPE_PUBLIC: _ClassVar[CacheScope]
    CACHE_SCOPE_PRINCIPAL: _ClassVar[CacheScope]
AUTH_MODE_UNSPECIFIED: AuthMode
AUTH_MODE_REQUIRED: AuthMode
AUTH_MODE_OPTIONAL: AuthMode
AUTH_MODE_NONE: AuthMode
TRAFFIC_PRIORITY_UNSPECIFIED: TrafficPriority
TRAFFIC_PRIORITY_CRISIS: TrafficPriority
TRAFFIC_PRIORITY_THERAPEUTIC_SESSION: TrafficPriority
TRAFFIC_PRIORITY_GAMEPLAY: TrafficPriority
TRAFFIC_PRIORITY_ADMINISTRATIVE: TrafficPriority
CACHE_SCOPE_UNSPECIFIED: CacheScope
CACHE_SCOPE_PUBLIC: CacheScope
CACHE_SCOPE_PRINCIPAL: CacheScope
METHOD_POLICY_FIELD_NUMBER: _ClassVar[int]
method_policy: _descriptor.FieldDescriptor
SERVICE_POLICY_FIELD_NUMBER: _ClassVar[int]
service_policy: _descriptor.FieldDescriptor
FIELD_POLICY_FIELD_NUMBER: _ClassVar[int]
field_policy: _descriptor.FieldDescriptor

class AuthPolicy(_message.Message):
    __slots__ = ("mode", "roles", "permissions")
    MODE_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    mode: AuthMode
    roles: _containers.RepeatedScalarFieldContainer[str]
    permissions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mode: _Optional[_Union[AuthMode, str]] = ..., roles: _Optional[_Iterable[str]] = ..., permissions: _Optional[_Iterable[str]] = ...) -> None: ...

class CachePolicy(_message.Message):
    __slots__ = ("ttl_seconds", "scope")
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ttl_seconds: int
    scope: CacheScope
    def __init__(self, ttl_seconds: _Optional[int] = ..., scope: _Optional[_Union[CacheScope, str]] = ...) -> None: ...

class WebSocketBridge(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class MethodPolicy(_message.Message):
    __slots__ = ("auth", "rate_limit_class", "priority", "cache", "idempotency_key", "websocket")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_CLASS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WEBSOCKET_FIELD_NUMBER: _ClassVar[int]
    auth: AuthPolicy
    rate_limit_class: str
    priority: TrafficPriority
    cache: CachePolicy
    idempotency_key: bool
    websocket: WebSocketBridge
    def __init__(self, auth: _Optional[_Union[AuthPolicy, _Mapping]] = ..., rate_limit_class: _Optional[str] = ..., priority: _Optional[_Union[TrafficPriority, str]] = ..., cache: _Optional[_Union[CachePolicy, _Mapping]] = ..., idempotency_key: _Optional[bool] = ..., websocket: _Optional[_Union[WebSocketBridge, _Mapping]] = ...) -> None: ...

class ServicePolicy(_message.Message):
    __slots__ = ("auth", "rate_limit_class", "priority")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_CLASS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    auth: AuthPolicy
    rate_limit_class: str
    priority: TrafficPriority
    def __init__(self, auth: _Optional[_Union[AuthPolicy, _Mapping]] = ..., rate_limit_class: _Optional[str] = ..., priority: _Optional[_Union[TrafficPriority, str]] = ...) -> None: ...

class FieldPolicy(_message.Message):
    __slots__ = ("scan", "phi", "owner")
    SCAN_FIELD_NUMBER: _ClassVar[int]
    PHI_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    scan: bool
    phi: bool
    owner: bool
    def __init__(self, scan: _Optional[bool] = ..., phi: _Optional[bool] = ..., owner: _Optional[bool] = ...) -> None: ...
