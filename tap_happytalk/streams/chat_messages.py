"""`chat_messages`: every message of every room `chat_rooms` reads, sent just before its room.

HappyTalk gives a room's messages only with the room (`chat_data`), so this is the SDK child
stream of `chat_rooms`, which reads each room once for both streams. Its own state (its point
and its open rooms, written by `chat_rooms`) says which days' messages it has, so it backfills
on its own when it is selected after `chat_rooms`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_happytalk.streams.base import ExplainedErrorsStream
from tap_happytalk.streams.chat_rooms import ChatRoomsStream
from tap_happytalk.streams.chat_schemas import MESSAGE_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context


class ChatMessagesStream(ExplainedErrorsStream):
    """Every message of every room `chat_rooms` reads, sent just before its room."""

    name = "chat_messages"
    primary_keys = ("id",)
    schema = MESSAGE_SCHEMA
    parent_stream_type = ChatRoomsStream
    # One state for the stream, not one per room: `chat_rooms` keeps it.
    state_partitioning_keys: list[str] = []  # noqa: RUF012 - the SDK's own attribute
    selected_by_default = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap) -> None:
        """Build the stream."""
        super().__init__(tap=tap)
        self._schema_written = False

    @override
    def _write_schema_message(self) -> None:
        """Once a run: the SDK would repeat the SCHEMA before every room's messages."""
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The room's messages, which `chat_rooms` read with the room."""
        rooms = cast("ChatRoomsStream", self._tap.streams[ChatRoomsStream.name])
        return rooms.take_messages(str((context or {})["room_id"]))
