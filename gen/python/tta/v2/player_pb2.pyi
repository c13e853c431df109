import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tta.gateway.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlayerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAYER_STATE_UNSPECIFIED: _ClassVar[PlayerState]
    PLAYER_STATE_ACTIVE: _ClassVar[PlayerState]
    PLAYER_STATE_SUSPENDED: _ClassVar[PlayerState]
    PLAYER_STATE_DELETED: _ClassVar[PlayerState]

class PlayerOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAYER_ORDER_UNSPECIFIED: _ClassVar[PlayerOrder]
    PLAYER_ORDER_CREATE_TIME_DESC: _ClassVar[PlayerOrder]
    PLAYER_ORDER_FAMILY_NAME: _ClassVar[PlayerOrder]
    PLAYER_ORDER_LAST_ACTIVITY_DESC: _ClassVar[PlayerOrder]
PLAYER_STATE_UNSPECIFIED: PlayerState
PLAYER_STATE_ACTIVE: PlayerState
PLAYER_STATE_SUSPENDED: PlayerState
PLAYER_STATE_DELETED: PlayerState
PLAYER_ORDER_UNSPECIFIED: PlayerOrder
PLAYER_ORDER_CREATE_TIME_DESC: PlayerOrder
PLAYER_ORDER_FAMILY_NAME: PlayerOrder
PLAYER_ORDER_LAST_ACTIVITY_DESC: PlayerOrder

class PlayerProfile(_message.Message):
    __slots__ = ("given_name", "family_name", "preferred_name", "pronouns", "locale", "time_zone", "avatar_uri")
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_NAME_FIELD_NUMBER: _ClassVar[int]
    PRONOUNS_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    AVATAR_URI_FIELD_NUMBER: _ClassVar[int]
    given_name: str
    family_name: str
    preferred_name: str
    pronouns: str
    locale: str
    time_zone: str
    avatar_uri: str
    def __init__(self, given_name: _Optional[str] = ..., family_name: _Optional[str] = ..., preferred_name: _Optional[str] = ..., pronouns: _Optional[str] = ..., locale: _Optional[str] = ..., time_zone: _Optional[str] = ..., avatar_uri: _Optional[str] = ...) -> None: ...

class ContactDetails(_message.Message):
    __slots__ = ("email_address", "email_verified", "phone_number")
    EMAIL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EMAIL_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    email_address: str
    email_verified: bool
    phone_number: str
    def __init__(self, email_address: _Optional[str] = ..., email_verified: _Optional[bool] = ..., phone_number: _Optional[str] = ...) -> None: ...

class Player(_message.Message):
    __slots__ = ("player_id", "profile", "contact", "state", "care_team_ids", "preferences", "create_time", "update_time", "last_activity_time")
    class PreferencesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CARE_TEAM_IDS_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_TIME_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    profile: PlayerProfile
    contact: ContactDetails
    state: PlayerState
    care_team_ids: _containers.RepeatedScalarFieldContainer[str]
    preferences: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    last_activity_time: _timestamp_pb2.Timestamp
    def __init__(self, player_id: _Optional[str] = ..., profile: _Optional[_Union[PlayerProfile, _Mapping]] = ..., contact: _Optional[_Union[ContactDetails, _Mapping]] = ..., state: _Optional[_Union[PlayerState, str]] = ..., care_team_ids: _Optional[_Iterable[str]] = ..., preferences: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_activity_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPlayerRequest(_message.Message):
    __slots__ = ("player_id",)
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    def __init__(self, player_id: _Optional[str] = ...) -> None: ...

class GetPlayerResponse(_message.Message):
    __slots__ = ("player",)
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    player: Player
    def __init__(self, player: _Optional[_Union[Player, _Mapping]] = ...) -> None: ...

class ListPlayersRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "state", "care_team_member_id", "order_by")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CARE_TEAM_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: PlayerState
    care_team_member_id: str
    order_by: PlayerOrder
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[PlayerState, str]] = ..., care_team_member_id: _Optional[str] = ..., order_by: _Optional[_Union[PlayerOrder, str]] = ...) -> None: ...

class ListPlayersResponse(_message.Message):
    __slots__ = ("players", "next_page_token", "total_size")
    PLAYERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    players: _containers.RepeatedCompositeFieldContainer[Player]
    next_page_token: str
    total_size: int
    def __init__(self, players: _Optional[_Iterable[_Union[Player, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CreatePlayerRequest(_message.Message):
    __slots__ = ("player", "password")
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    player: Player
    password: str
    def __init__(self, player: _Optional[_Union[Player, _Mapping]] = ..., password: _Optional[str] = ...) -> None: ...

class CreatePlayerResponse(_message.Message):
    __slots__ = ("player",)
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    player: Player
    def __init__(self, player: _Optional[_Union[Player, _Mapping]] = ...) -> None: ...

class UpdatePlayerRequest(_message.Message):
    __slots__ = ("player", "update_mask")
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    player: Player
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, player: _Optional[_Union[Player, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdatePlayerResponse(_message.Message):
    __slots__ = ("player",)
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    player: Player
    def __init__(self, player: _Optional[_Union[Player, _Mapping]] = ...) -> None: ...

class DeletePlayerRequest(_message.Message):
    __slots__ = ("player_id", "reason")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    reason: str
    def __init__(self, player_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeletePlayerResponse(_message.Message):
    __slots__ = ("player", "purge_time")
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    PURGE_TIME_FIELD_NUMBER: _ClassVar[int]
    player: Player
    purge_time: _timestamp_pb2.Timestamp
    def __init__(self, player: _Optional[_Union[Player, _Mapping]] = ..., purge_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
