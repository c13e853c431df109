"""Reference ``tta.v1.ChatService``: one room per session, fanned out with per-subscriber queues.

Every message (``SendMessage``, ``Chat``, ``ImportMessages``, and the session's system notices) goes
through :meth:`World.post_message`, which numbers it gap-free within the room, stores it for
``ListMessages`` and delivers it to every open ``WatchRoom`` and ``Chat`` stream of the session. A
stream unsubscribes in ``finally`` so a cancelled call leaves nothing behind.

Messages are attributed to the session's player; a call may name another sender with the
``x-tta-subject`` metadata (the gateway's identity hop). A ``client_message_id`` seen before in the
room returns the recorded message instead of posting twice. Ended sessions are read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc
from tta.v1 import chat_pb2, chat_pb2_grpc, session_pb2

from services._caller import CURRENT
from services._errors import (
    Context,
    ServiceError,
    failed_precondition,
    invalid_argument,
    require,
    translate_errors,
)
from services._paging import paginate
from services._streams import open_stream
from services.state import World, timestamp

__all__ = ["ChatServicer", "register"]


@translate_errors
class ChatServicer(chat_pb2_grpc.ChatServiceServicer):
    """Session rooms over ``World.messages`` and ``World.rooms``."""

    def __init__(self, world: World) -> None:
        self._world = world

    def _writable(self, session_id: str) -> session_pb2.Session:
        session = self._world.get_session(session_id)
        if session.state == session_pb2.SESSION_STATE_ENDED:
            raise failed_precondition(f'session "{session_id}" has ended; its room is read-only')
        return session

    def _post(
        self,
        session: session_pb2.Session,
        text: str,
        client_message_id: str,
        visibility: chat_pb2.MessageVisibility,
        subject: str,
    ) -> chat_pb2.ChatMessage:
        require("text", text.strip())
        if client_message_id:
            for earlier in self._world.messages.get(session.session_id, []):
                if earlier.client_message_id == client_message_id:
                    return earlier
        sender_id = subject or session.player_id
        player = self._world.players.get(sender_id)
        staff = sender_id.startswith("st_")
        message = chat_pb2.ChatMessage(
            session_id=session.session_id,
            sender_id=sender_id,
            sender_kind=chat_pb2.SENDER_KIND_THERAPIST if staff else chat_pb2.SENDER_KIND_PLAYER,
            sender_display_name=player.display_name if player else sender_id,
            text=text,
            visibility=visibility or chat_pb2.MESSAGE_VISIBILITY_VISIBLE,
            client_message_id=client_message_id,
        )
        return self._world.post_message(message)

    async def SendMessage(
        self, request: chat_pb2.SendMessageRequest, context: Context
    ) -> chat_pb2.SendMessageResponse:
        """Posts one message to the room and returns it with its id and sequence number."""
        session = self._writable(request.session_id)
        message = self._post(
            session, request.text, request.client_message_id, request.visibility, CURRENT.get().subject
        )
        return chat_pb2.SendMessageResponse(message=message)

    async def ListMessages(
        self, request: chat_pb2.ListMessagesRequest, context: Context
    ) -> chat_pb2.ListMessagesResponse:
        """Past messages after ``after_sequence``, oldest first."""
        session = self._world.get_session(request.session_id)
        if request.after_sequence < 0:
            raise invalid_argument("after_sequence", "must not be negative")
        room = self._world.messages.get(session.session_id, [])[request.after_sequence :]
        page, token = paginate(room, request.page_size, request.page_token, default_size=100, max_size=500)
        return chat_pb2.ListMessagesResponse(messages=page, next_page_token=token)

    async def WatchRoom(
        self, request: chat_pb2.WatchRoomRequest, context: Context
    ) -> AsyncIterator[chat_pb2.WatchRoomResponse]:
        """Replays messages after ``after_sequence`` (if set), then every new one, until cancelled."""
        session = self._world.get_session(request.session_id)
        if request.after_sequence < 0:
            raise invalid_argument("after_sequence", "must not be negative")
        with self._world.rooms.subscribe(session.session_id) as queue:
            await open_stream(context)  # subscribed: whatever is posted from now on will be delivered
            room = self._world.messages.get(session.session_id, [])
            last = len(room)
            if request.after_sequence:
                last = request.after_sequence
                for message in list(room[request.after_sequence :]):  # a snapshot: the room may grow
                    yield chat_pb2.WatchRoomResponse(message=message)
                    last = message.sequence
            while True:
                message = await queue.get()
                if message.sequence > last:  # already replayed otherwise
                    yield chat_pb2.WatchRoomResponse(message=message)

    async def Chat(
        self, request_iterator: AsyncIterator[chat_pb2.ChatRequest], context: Context
    ) -> AsyncIterator[chat_pb2.ChatResponse]:
        """Talks in a room: posts each request, delivers every room message, own ones included.

        The first request names the session; it is posted (or refused) before the response headers
        are sent. When the client half-closes, messages already posted are delivered and the call ends.
        """
        requests = aiter(request_iterator)
        try:
            first = await anext(requests)
        except StopAsyncIteration:
            return
        session = self._writable(first.session_id)
        subject = CURRENT.get().subject

        def post(request: chat_pb2.ChatRequest) -> None:
            if request.session_id and request.session_id != session.session_id:
                raise invalid_argument("session_id", f'a Chat stream stays in session "{session.session_id}"')
            self._writable(session.session_id)
            self._post(
                session,
                request.text,
                request.client_message_id,
                chat_pb2.MESSAGE_VISIBILITY_UNSPECIFIED,
                subject,
            )

        async def pump() -> None:
            async for request in requests:
                post(request)

        with self._world.rooms.subscribe(session.session_id) as queue:
            post(first)  # subscribed first, so the caller's own first message comes back to it
            await open_stream(context)
            reader = asyncio.create_task(pump())
            getter: asyncio.Future[chat_pb2.ChatMessage] | None = None
            try:
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield chat_pb2.ChatResponse(message=getter.result())
                        continue
                    getter.cancel()
                    reader.result()  # re-raises a ServiceError from the reader
                    while not queue.empty():
                        yield chat_pb2.ChatResponse(message=queue.get_nowait())
                    return
            finally:
                for task in (reader, getter):
                    if task is None:
                        continue
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, ServiceError):
                        await task

    async def ImportMessages(
        self,
        request_iterator: AsyncIterator[chat_pb2.ImportMessagesRequest],
        context: Context,
    ) -> chat_pb2.ImportMessagesResponse:
        """Stores a streamed transcript; ``external_id``s imported before are skipped."""
        session: session_pb2.Session | None = None
        imported = skipped = 0
        async for request in request_iterator:
            if session is None:
                session = self._writable(request.session_id)
            elif request.session_id and request.session_id != session.session_id:
                raise invalid_argument("session_id", f'an import stays in session "{session.session_id}"')
            require("text", request.text)
            seen = self._world.imported_ids.setdefault(session.session_id, set())
            if request.external_id and request.external_id in seen:
                skipped += 1
                continue
            if request.external_id:
                seen.add(request.external_id)
            message = chat_pb2.ChatMessage(
                session_id=session.session_id,
                sender_id=request.sender_id,
                sender_kind=request.sender_kind or chat_pb2.SENDER_KIND_PLAYER,
                sender_display_name=request.sender_display_name,
                text=request.text,
                visibility=chat_pb2.MESSAGE_VISIBILITY_VISIBLE,
                create_time=request.create_time
                if request.HasField("create_time")
                else timestamp(self._world.now()),
            )
            self._world.post_message(message)
            imported += 1
        if session is None:
            raise invalid_argument("session_id", "the import stream carried no messages")
        return chat_pb2.ImportMessagesResponse(
            session_id=session.session_id,
            imported_count=imported,
            skipped_count=skipped,
            last_sequence=len(self._world.messages.get(session.session_id, [])),
        )


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the chat service to ``server``."""
    chat_pb2_grpc.add_ChatServiceServicer_to_server(ChatServicer(world), server)
