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

class TherapeuticTheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    THERAPEUTIC_THEME_UNSPECIFIED: _ClassVar[TherapeuticTheme]
    THERAPEUTIC_THEME_ANXIETY: _ClassVar[TherapeuticTheme]
    THERAPEUTIC_THEME_GRIEF: _ClassVar[TherapeuticTheme]
    THERAPEUTIC_THEME_SELF_ESTEEM: _ClassVar[TherapeuticTheme]
    THERAPEUTIC_THEME_SOCIAL_CONNECTION: _ClassVar[TherapeuticTheme]
    THERAPEUTIC_THEME_ANGER: _ClassVar[TherapeuticTheme]
    THERAPEUTIC_THEME_RESILIENCE: _ClassVar[TherapeuticTheme]
    THERAPEUTIC_THEME_MINDFULNESS: _ClassVar[TherapeuticTheme]

class WorldDifficulty(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORLD_DIFFICULTY_UNSPECIFIED: _ClassVar[WorldDifficulty]
    WORLD_DIFFICULTY_GENTLE: _ClassVar[WorldDifficulty]
    WORLD_DIFFICULTY_MODERATE: _ClassVar[WorldDifficulty]
    WORLD_DIFFICULTY_CHALLENGING: _ClassVar[WorldDifficulty]
THERAPEUTIC_THEME_UNSPECIFIED: TherapeuticTheme
THERAPEUTIC_THEME_ANXIETY: TherapeuticTheme
THERAPEUTIC_THEME_GRIEF: TherapeuticTheme
THERAPEUTIC_THEME_SELF_ESTEEM: TherapeuticTheme
THERAPEUTIC_THEME_SOCIAL_CONNECTION: TherapeuticTheme
THERAPEUTIC_THEME_ANGER: TherapeuticTheme
THERAPEUTIC_THEME_RESILIENCE: TherapeuticTheme
THERAPEUTIC_THEME_MINDFULNESS: TherapeuticTheme
WORLD_DIFFICULTY_UNSPECIFIED: WorldDifficulty
WORLD_DIFFICULTY_GENTLE: WorldDifficulty
WORLD_DIFFICULTY_MODERATE: WorldDifficulty
WORLD_DIFFICULTY_CHALLENGING: WorldDifficulty

class Location(_message.Message):
    __slots__ = ("location_id", "name", "description", "exit_location_ids")
    LOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXIT_LOCATION_IDS_FIELD_NUMBER: _ClassVar[int]
    location_id: str
    name: str
    description: str
    exit_location_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, location_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., exit_location_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class World(_message.Message):
    __slots__ = ("world_id", "title", "summary", "themes", "difficulty", "content_warnings", "estimated_session_minutes", "starting_location_id", "locations", "minimum_age", "labels", "publish_time")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    THEMES_FIELD_NUMBER: _ClassVar[int]
    DIFFICULTY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_SESSION_MINUTES_FIELD_NUMBER: _ClassVar[int]
    STARTING_LOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    LOCATIONS_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_AGE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    title: str
    summary: str
    themes: _containers.RepeatedScalarFieldContainer[TherapeuticTheme]
    difficulty: WorldDifficulty
    content_warnings: _containers.RepeatedScalarFieldContainer[str]
    estimated_session_minutes: int
    starting_location_id: str
    locations: _containers.RepeatedCompositeFieldContainer[Location]
    minimum_age: int
    labels: _containers.ScalarMap[str, str]
    publish_time: _timestamp_pb2.Timestamp
    def __init__(self, world_id: _Optional[str] = ..., title: _Optional[str] = ..., summary: _Optional[str] = ..., themes: _Optional[_Iterable[_Union[TherapeuticTheme, str]]] = ..., difficulty: _Optional[_Union[WorldDifficulty, str]] = ..., content_warnings: _Optional[_Iterable[str]] = ..., estimated_session_minutes: _Optional[int] = ..., starting_location_id: _Optional[str] = ..., locations: _Optional[_Iterable[_Union[Location, _Mapping]]] = ..., minimum_age: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ..., publish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListWorldsRequest(_message.Message):
    __slots__ = ("theme", "difficulty", "page_size", "page_token")
    THEME_FIELD_NUMBER: _ClassVar[int]
    DIFFICULTY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    theme: TherapeuticTheme
    difficulty: WorldDifficulty
    page_size: int
    page_token: str
    def __init__(self, theme: _Optional[_Union[TherapeuticTheme, str]] = ..., difficulty: _Optional[_Union[WorldDifficulty, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWorldsResponse(_message.Message):
    __slots__ = ("worlds", "next_page_token")
    WORLDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    worlds: _containers.RepeatedCompositeFieldContainer[World]
    next_page_token: str
    def __init__(self, worlds: _Optional[_Iterable[_Union[World, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetWorldRequest(_message.Message):
    __slots__ = ("world_id",)
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    def __init__(self, world_id: _Optional[str] = ...) -> None: ...

class GetWorldResponse(_message.Message):
    __slots__ = ("world",)
    WORLD_FIELD_NUMBER: _ClassVar[int]
    world: World
    def __init__(self, world: _Optional[_Union[World, _Mapping]] = ...) -> None: ...
