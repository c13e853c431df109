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

class RiskLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_LEVEL_UNSPECIFIED: _ClassVar[RiskLevel]
    RISK_LEVEL_NONE: _ClassVar[RiskLevel]
    RISK_LEVEL_LOW: _ClassVar[RiskLevel]
    RISK_LEVEL_MODERATE: _ClassVar[RiskLevel]
    RISK_LEVEL_HIGH: _ClassVar[RiskLevel]
    RISK_LEVEL_CRITICAL: _ClassVar[RiskLevel]

class RiskCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_CATEGORY_UNSPECIFIED: _ClassVar[RiskCategory]
    RISK_CATEGORY_SELF_HARM: _ClassVar[RiskCategory]
    RISK_CATEGORY_SUICIDAL_IDEATION: _ClassVar[RiskCategory]
    RISK_CATEGORY_HARM_TO_OTHERS: _ClassVar[RiskCategory]
    RISK_CATEGORY_ABUSE_DISCLOSURE: _ClassVar[RiskCategory]
    RISK_CATEGORY_SUBSTANCE_USE: _ClassVar[RiskCategory]
    RISK_CATEGORY_HARASSMENT: _ClassVar[RiskCategory]
    RISK_CATEGORY_SEXUAL_CONTENT: _ClassVar[RiskCategory]

class SafetyAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAFETY_ACTION_UNSPECIFIED: _ClassVar[SafetyAction]
    SAFETY_ACTION_ALLOW: _ClassVar[SafetyAction]
    SAFETY_ACTION_WARN: _ClassVar[SafetyAction]
    SAFETY_ACTION_HOLD: _ClassVar[SafetyAction]
    SAFETY_ACTION_BLOCK: _ClassVar[SafetyAction]
    SAFETY_ACTION_ESCALATE: _ClassVar[SafetyAction]

class ContentSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTENT_SOURCE_UNSPECIFIED: _ClassVar[ContentSource]
    CONTENT_SOURCE_CHAT: _ClassVar[ContentSource]
    CONTENT_SOURCE_ACTION: _ClassVar[ContentSource]
    CONTENT_SOURCE_JOURNAL: _ClassVar[ContentSource]
    CONTENT_SOURCE_CHARACTER: _ClassVar[ContentSource]
    CONTENT_SOURCE_GENERATED: _ClassVar[ContentSource]

class EscalationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ESCALATION_STATE_UNSPECIFIED: _ClassVar[EscalationState]
    ESCALATION_STATE_OPEN: _ClassVar[EscalationState]
    ESCALATION_STATE_ACKNOWLEDGED: _ClassVar[EscalationState]
    ESCALATION_STATE_RESOLVED: _ClassVar[EscalationState]
RISK_LEVEL_UNSPECIFIED: RiskLevel
RISK_LEVEL_NONE: RiskLevel
RISK_LEVEL_LOW: RiskLevel
RISK_LEVEL_MODERATE: RiskLevel
RISK_LEVEL_HIGH: RiskLevel
RISK_LEVEL_CRITICAL: RiskLevel
RISK_CATEGORY_UNSPECIFIED: RiskCategory
RISK_CATEGORY_SELF_HARM: RiskCategory
RISK_CATEGORY_SUICIDAL_IDEATION: RiskCategory
RISK_CATEGORY_HARM_TO_OTHERS: RiskCategory
RISK_CATEGORY_ABUSE_DISCLOSURE: RiskCategory
RISK_CATEGORY_SUBSTANCE_USE: RiskCategory
RISK_CATEGORY_HARASSMENT: RiskCategory
RISK_CATEGORY_SEXUAL_CONTENT: RiskCategory
SAFETY_ACTION_UNSPECIFIED: SafetyAction
SAFETY_ACTION_ALLOW: SafetyAction
SAFETY_ACTION_WARN: SafetyAction
SAFETY_ACTION_HOLD: SafetyAction
SAFETY_ACTION_BLOCK: SafetyAction
SAFETY_ACTION_ESCALATE: SafetyAction
CONTENT_SOURCE_UNSPECIFIED: ContentSource
CONTENT_SOURCE_CHAT: ContentSource
CONTENT_SOURCE_ACTION: ContentSource
CONTENT_SOURCE_JOURNAL: ContentSource
CONTENT_SOURCE_CHARACTER: ContentSource
CONTENT_SOURCE_GENERATED: ContentSource
ESCALATION_STATE_UNSPECIFIED: EscalationState
ESCALATION_STATE_OPEN: EscalationState
ESCALATION_STATE_ACKNOWLEDGED: EscalationState
ESCALATION_STATE_RESOLVED: EscalationState

class CrisisResource(_message.Message):
    __slots__ = ("name", "phone", "url", "region_code", "available_24h")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_24H_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone: str
    url: str
    region_code: str
    available_24h: bool
    def __init__(self, name: _Optional[str] = ..., phone: _Optional[str] = ..., url: _Optional[str] = ..., region_code: _Optional[str] = ..., available_24h: _Optional[bool] = ...) -> None: ...

class Escalation(_message.Message):
    __slots__ = ("escalation_id", "player_id", "session_id", "risk_level", "categories", "source", "excerpt", "details", "state", "assignee_id", "acknowledged_by", "acknowledgement_note", "create_time", "acknowledge_time")
    ESCALATION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXCERPT_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGEMENT_NOTE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGE_TIME_FIELD_NUMBER: _ClassVar[int]
    escalation_id: str
    player_id: str
    session_id: str
    risk_level: RiskLevel
    categories: _containers.RepeatedScalarFieldContainer[RiskCategory]
    source: ContentSource
    excerpt: str
    details: str
    state: EscalationState
    assignee_id: str
    acknowledged_by: str
    acknowledgement_note: str
    create_time: _timestamp_pb2.Timestamp
    acknowledge_time: _timestamp_pb2.Timestamp
    def __init__(self, escalation_id: _Optional[str] = ..., player_id: _Optional[str] = ..., session_id: _Optional[str] = ..., risk_level: _Optional[_Union[RiskLevel, str]] = ..., categories: _Optional[_Iterable[_Union[RiskCategory, str]]] = ..., source: _Optional[_Union[ContentSource, str]] = ..., excerpt: _Optional[str] = ..., details: _Optional[str] = ..., state: _Optional[_Union[EscalationState, str]] = ..., assignee_id: _Optional[str] = ..., acknowledged_by: _Optional[str] = ..., acknowledgement_note: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledge_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AssessContentRequest(_message.Message):
    __slots__ = ("text", "source", "player_id", "session_id", "region_code")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    text: str
    source: ContentSource
    player_id: str
    session_id: str
    region_code: str
    def __init__(self, text: _Optional[str] = ..., source: _Optional[_Union[ContentSource, str]] = ..., player_id: _Optional[str] = ..., session_id: _Optional[str] = ..., region_code: _Optional[str] = ...) -> None: ...

class AssessContentResponse(_message.Message):
    __slots__ = ("risk_level", "categories", "action", "rationale", "confidence", "escalation_id", "crisis_resources")
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_ID_FIELD_NUMBER: _ClassVar[int]
    CRISIS_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    risk_level: RiskLevel
    categories: _containers.RepeatedScalarFieldContainer[RiskCategory]
    action: SafetyAction
    rationale: str
    confidence: float
    escalation_id: str
    crisis_resources: _containers.RepeatedCompositeFieldContainer[CrisisResource]
    def __init__(self, risk_level: _Optional[_Union[RiskLevel, str]] = ..., categories: _Optional[_Iterable[_Union[RiskCategory, str]]] = ..., action: _Optional[_Union[SafetyAction, str]] = ..., rationale: _Optional[str] = ..., confidence: _Optional[float] = ..., escalation_id: _Optional[str] = ..., crisis_resources: _Optional[_Iterable[_Union[CrisisResource, _Mapping]]] = ...) -> None: ...

class ListEscalationsRequest(_message.Message):
    __slots__ = ("state", "minimum_risk_level", "player_id", "session_id", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: EscalationState
    minimum_risk_level: RiskLevel
    player_id: str
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[EscalationState, str]] = ..., minimum_risk_level: _Optional[_Union[RiskLevel, str]] = ..., player_id: _Optional[str] = ..., session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEscalationsResponse(_message.Message):
    __slots__ = ("escalations", "next_page_token", "open_count")
    ESCALATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OPEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    escalations: _containers.RepeatedCompositeFieldContainer[Escalation]
    next_page_token: str
    open_count: int
    def __init__(self, escalations: _Optional[_Iterable[_Union[Escalation, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., open_count: _Optional[int] = ...) -> None: ...

class AcknowledgeEscalationRequest(_message.Message):
    __slots__ = ("escalation_id", "note")
    ESCALATION_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    escalation_id: str
    note: str
    def __init__(self, escalation_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class AcknowledgeEscalationResponse(_message.Message):
    __slots__ = ("escalation",)
    ESCALATION_FIELD_NUMBER: _ClassVar[int]
    escalation: Escalation
    def __init__(self, escalation: _Optional[_Union[Escalation, _Mapping]] = ...) -> None: ...
