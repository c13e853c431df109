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

class SenderKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENDER_KIND_UNSPECIFIED: _ClassVar[SenderKind]
    SENDER_KIND_PLAYER: _ClassVar[SenderKind]
    SENDER_KIND_THERAPIST: _ClassVar[SenderKind]
    SENDER_KIND_AGENT: _ClassVar[SenderKind]
    SENDER_KIND_SYSTEM: _ClassVar[SenderKind]

class MessageVisibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_VISIBILITY_UNSPECIFIED: _ClassVar[MessageVisibility]
    MESSAGE_VISIBILITY_VISIBLE: _ClassVar[MessageVisibility]
    MESSAGE_VISIBILITY_HELD: _ClassVar[MessageVisibility]
    MESSAGE_VISIBILITY_STAFF_ONLY: _ClassVar[MessageVisibility]
SENDER_KIND_UNSPECIFIED: SenderKind
SENDER_KIND_PLAYER: SenderKind
SENDER_KIND_THERAPIST: SenderKind
SENDER_KIND_AGENT: SenderKind
SENDER_KIND_SYSTEM: SenderKind
MESSAGE_VISIBILITY_UNSPECIFIED: MessageVisibility
MESSAGE_VISIBILITY_VISIBLE: MessageVisibility
MESSAGE_VISIBILITY_HELD: MessageVisibility
MESSAGE_VISIBILITY_STAFF_ONLY: MessageVisibility

class ChatMessage(_message.Message):
    __slots__ = ("message_id", "session_id", "sequence", "sender_id", "sender_kind", "sender_display_name", "text", "visibility", "client_message_id", "create_time")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_KIND_FIELD_NUMBER: _ClassVar[int]
    SENDER_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    session_id: str
    sequence: int
    sender_id: str
    sender_kind: SenderKind
    sender_display_name: str
    text: str
    visibility: MessageVisibility
    client_message_id: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, message_id: _Optional[str] = ..., session_id: _Optional[str] = ..., sequence: _Optional[int] = ..., sender_id: _Optional[str] = ..., sender_kind: _Optional[_Union[SenderKind, str]] = ..., sender_display_name: _Optional[str] = ..., text: _Optional[str] = ..., visibility: _Optional[_Union[MessageVisibility, str]] = ..., client_message_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ChatRequest(_message.Message):
    __slots__ = ("session_id", "client_message_id", "text")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_message_id: str
    text: str
    def __init__(self, session_id: _Optional[str] = ..., client_message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ChatResponse(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ...) -> None: ...

class WatchRoomRequest(_message.Message):
    __slots__ = ("session_id", "after_sequence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    after_sequence: int
    def __init__(self, session_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchRoomResponse(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ...) -> None: ...

class SendMessageRequest(_message.Message):
    __slots__ = ("session_id", "client_message_id", "text", "visibility")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_message_id: str
    text: str
    visibility: MessageVisibility
    def __init__(self, session_id: _Optional[str] = ..., client_message_id: _Optional[str] = ..., text: _Optional[str] = ..., visibility: _Optional[_Union[MessageVisibility, str]] = ...) -> None: ...

class SendMessageResponse(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ...) -> None: ...

class ListMessagesRequest(_message.Message):
    __slots__ = ("session_id", "after_sequence", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    after_sequence: int
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., after_sequence: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMessagesResponse(_message.Message):
    __slots__ = ("messages", "next_page_token")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    next_page_token: str
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ImportMessagesRequest(_message.Message):
    __slots__ = ("session_id", "external_id", "sender_id", "sender_kind", "sender_display_name", "text", "create_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_KIND_FIELD_NUMBER: _ClassVar[int]
    SENDER_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    external_id: str
    sender_id: str
    sender_kind: SenderKind
    sender_display_name: str
    text: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., external_id: _Optional[str] = ..., sender_id: _Optional[str] = ..., sender_kind: _Optional[_Union[SenderKind, str]] = ..., sender_display_name: _Optional[str] = ..., text: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ImportMessagesResponse(_message.Message):
    __slots__ = ("session_id", "imported_count", "skipped_count", "last_sequence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    imported_count: int
    skipped_count: int
    last_sequence: int
    def __init__(self, session_id: _Optional[str] = ..., imported_count: _Optional[int] = ..., skipped_count: _Optional[int] = ..., last_sequence: _Optional[int] = ...) -> None: ...
