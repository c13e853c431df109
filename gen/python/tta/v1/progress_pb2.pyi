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

class MilestoneKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MILESTONE_KIND_UNSPECIFIED: _ClassVar[MilestoneKind]
    MILESTONE_KIND_STORY: _ClassVar[MilestoneKind]
    MILESTONE_KIND_SKILL: _ClassVar[MilestoneKind]
    MILESTONE_KIND_THERAPEUTIC: _ClassVar[MilestoneKind]
    MILESTONE_KIND_ENGAGEMENT: _ClassVar[MilestoneKind]
MILESTONE_KIND_UNSPECIFIED: MilestoneKind
MILESTONE_KIND_STORY: MilestoneKind
MILESTONE_KIND_SKILL: MilestoneKind
MILESTONE_KIND_THERAPEUTIC: MilestoneKind
MILESTONE_KIND_ENGAGEMENT: MilestoneKind

class Milestone(_message.Message):
    __slots__ = ("milestone_id", "player_id", "kind", "title", "description", "session_id", "goal_id", "reflection", "mood_rating", "points", "achieve_time")
    MILESTONE_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    GOAL_ID_FIELD_NUMBER: _ClassVar[int]
    REFLECTION_FIELD_NUMBER: _ClassVar[int]
    MOOD_RATING_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    ACHIEVE_TIME_FIELD_NUMBER: _ClassVar[int]
    milestone_id: str
    player_id: str
    kind: MilestoneKind
    title: str
    description: str
    session_id: str
    goal_id: str
    reflection: str
    mood_rating: int
    points: int
    achieve_time: _timestamp_pb2.Timestamp
    def __init__(self, milestone_id: _Optional[str] = ..., player_id: _Optional[str] = ..., kind: _Optional[_Union[MilestoneKind, str]] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., session_id: _Optional[str] = ..., goal_id: _Optional[str] = ..., reflection: _Optional[str] = ..., mood_rating: _Optional[int] = ..., points: _Optional[int] = ..., achieve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GoalProgress(_message.Message):
    __slots__ = ("goal_id", "description", "percent_complete", "milestone_count")
    GOAL_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PERCENT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    MILESTONE_COUNT_FIELD_NUMBER: _ClassVar[int]
    goal_id: str
    description: str
    percent_complete: float
    milestone_count: int
    def __init__(self, goal_id: _Optional[str] = ..., description: _Optional[str] = ..., percent_complete: _Optional[float] = ..., milestone_count: _Optional[int] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("player_id", "percent_complete", "level", "points", "milestone_counts", "goals", "recent_milestones", "completed_session_count", "average_mood_30d", "last_activity_time")
    class MilestoneCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    PERCENT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    MILESTONE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    GOALS_FIELD_NUMBER: _ClassVar[int]
    RECENT_MILESTONES_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_SESSION_COUNT_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_MOOD_30D_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_TIME_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    percent_complete: float
    level: int
    points: int
    milestone_counts: _containers.ScalarMap[str, int]
    goals: _containers.RepeatedCompositeFieldContainer[GoalProgress]
    recent_milestones: _containers.RepeatedCompositeFieldContainer[Milestone]
    completed_session_count: int
    average_mood_30d: float
    last_activity_time: _timestamp_pb2.Timestamp
    def __init__(self, player_id: _Optional[str] = ..., percent_complete: _Optional[float] = ..., level: _Optional[int] = ..., points: _Optional[int] = ..., milestone_counts: _Optional[_Mapping[str, int]] = ..., goals: _Optional[_Iterable[_Union[GoalProgress, _Mapping]]] = ..., recent_milestones: _Optional[_Iterable[_Union[Milestone, _Mapping]]] = ..., completed_session_count: _Optional[int] = ..., average_mood_30d: _Optional[float] = ..., last_activity_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetProgressRequest(_message.Message):
    __slots__ = ("player_id",)
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    def __init__(self, player_id: _Optional[str] = ...) -> None: ...

class GetProgressResponse(_message.Message):
    __slots__ = ("progress",)
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ...) -> None: ...

class RecordMilestoneRequest(_message.Message):
    __slots__ = ("player_id", "milestone")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    MILESTONE_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    milestone: Milestone
    def __init__(self, player_id: _Optional[str] = ..., milestone: _Optional[_Union[Milestone, _Mapping]] = ...) -> None: ...

class RecordMilestoneResponse(_message.Message):
    __slots__ = ("milestone", "progress")
    MILESTONE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    milestone: Milestone
    progress: Progress
    def __init__(self, milestone: _Optional[_Union[Milestone, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ...) -> None: ...

class ListMilestonesRequest(_message.Message):
    __slots__ = ("player_id", "kind", "page_size", "page_token")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    kind: MilestoneKind
    page_size: int
    page_token: str
    def __init__(self, player_id: _Optional[str] = ..., kind: _Optional[_Union[MilestoneKind, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMilestonesResponse(_message.Message):
    __slots__ = ("milestones", "next_page_token")
    MILESTONES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    milestones: _containers.RepeatedCompositeFieldContainer[Milestone]
    next_page_token: str
    def __init__(self, milestones: _Optional[_Iterable[_Union[Milestone, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
