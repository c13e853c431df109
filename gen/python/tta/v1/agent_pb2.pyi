import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tta.gateway.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_KIND_UNSPECIFIED: _ClassVar[AgentKind]
    AGENT_KIND_NARRATOR: _ClassVar[AgentKind]
    AGENT_KIND_COMPANION: _ClassVar[AgentKind]
    AGENT_KIND_THERAPEUTIC_GUIDE: _ClassVar[AgentKind]
    AGENT_KIND_CLINICAL_ASSISTANT: _ClassVar[AgentKind]
    AGENT_KIND_WORLD_BUILDER: _ClassVar[AgentKind]

class FinishReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINISH_REASON_UNSPECIFIED: _ClassVar[FinishReason]
    FINISH_REASON_COMPLETE: _ClassVar[FinishReason]
    FINISH_REASON_LENGTH: _ClassVar[FinishReason]
    FINISH_REASON_SAFETY: _ClassVar[FinishReason]
    FINISH_REASON_CANCELLED: _ClassVar[FinishReason]
AGENT_KIND_UNSPECIFIED: AgentKind
AGENT_KIND_NARRATOR: AgentKind
AGENT_KIND_COMPANION: AgentKind
AGENT_KIND_THERAPEUTIC_GUIDE: AgentKind
AGENT_KIND_CLINICAL_ASSISTANT: AgentKind
AGENT_KIND_WORLD_BUILDER: AgentKind
FINISH_REASON_UNSPECIFIED: FinishReason
FINISH_REASON_COMPLETE: FinishReason
FINISH_REASON_LENGTH: FinishReason
FINISH_REASON_SAFETY: FinishReason
FINISH_REASON_CANCELLED: FinishReason

class Agent(_message.Message):
    __slots__ = ("agent_id", "display_name", "description", "kind", "capabilities", "allowed_roles", "available")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ROLES_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    display_name: str
    description: str
    kind: AgentKind
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    allowed_roles: _containers.RepeatedScalarFieldContainer[str]
    available: bool
    def __init__(self, agent_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., kind: _Optional[_Union[AgentKind, str]] = ..., capabilities: _Optional[_Iterable[str]] = ..., allowed_roles: _Optional[_Iterable[str]] = ..., available: _Optional[bool] = ...) -> None: ...

class TokenUsage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("kind", "page_size", "page_token")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    kind: AgentKind
    page_size: int
    page_token: str
    def __init__(self, kind: _Optional[_Union[AgentKind, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents", "next_page_token")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    next_page_token: str
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class InvokeAgentRequest(_message.Message):
    __slots__ = ("agent_id", "player_id", "session_id", "input", "context", "max_output_tokens")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    player_id: str
    session_id: str
    input: str
    context: _containers.ScalarMap[str, str]
    max_output_tokens: int
    def __init__(self, agent_id: _Optional[str] = ..., player_id: _Optional[str] = ..., session_id: _Optional[str] = ..., input: _Optional[str] = ..., context: _Optional[_Mapping[str, str]] = ..., max_output_tokens: _Optional[int] = ...) -> None: ...

class InvokeAgentResponse(_message.Message):
    __slots__ = ("agent_id", "reply", "finish_reason", "usage", "create_time")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    reply: str
    finish_reason: FinishReason
    usage: TokenUsage
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, agent_id: _Optional[str] = ..., reply: _Optional[str] = ..., finish_reason: _Optional[_Union[FinishReason, str]] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StreamAgentReplyRequest(_message.Message):
    __slots__ = ("agent_id", "player_id", "session_id", "input", "context", "max_output_tokens")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    player_id: str
    session_id: str
    input: str
    context: _containers.ScalarMap[str, str]
    max_output_tokens: int
    def __init__(self, agent_id: _Optional[str] = ..., player_id: _Optional[str] = ..., session_id: _Optional[str] = ..., input: _Optional[str] = ..., context: _Optional[_Mapping[str, str]] = ..., max_output_tokens: _Optional[int] = ...) -> None: ...

class StreamAgentReplyResponse(_message.Message):
    __slots__ = ("text_delta", "finish_reason", "usage", "sequence")
    TEXT_DELTA_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    text_delta: str
    finish_reason: FinishReason
    usage: TokenUsage
    sequence: int
    def __init__(self, text_delta: _Optional[str] = ..., finish_reason: _Optional[_Union[FinishReason, str]] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...
