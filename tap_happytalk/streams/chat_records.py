"""A room and its messages as the chat streams' records, from HappyTalk's answers.

Pure: `records.RowConverter` does the conversion (times get the offset of `timezone`, fields
their type, undescribed fields their column); here a room as read is merged with the room as
listed, and its messages are put in order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_happytalk.progress import Unit
from tap_happytalk.windows import API_FORMAT, to_instant

if TYPE_CHECKING:
    from tap_happytalk.records import RowConverter

Record = dict[str, Any]


@dataclass(frozen=True)
class RoomRecords:
    """Turns the chat calls' answers into `chat_rooms` and `chat_messages` records."""

    rooms: RowConverter
    messages: RowConverter
    zone: dt.tzinfo
    with_messages: bool  # whether `chat_messages` is selected

    def read(
        self, answer: tuple[Record, list[Record]], listed: Record | None
    ) -> tuple[Record, list[Record]]:
        """A room as read (fresher than as listed), and its messages in order.

        Only the list has `last_message`: a room read again by id gets it from its messages.

        Raises:
            HappyTalkResponseError: A field HappyTalk sent in a shape it does not document.
        """
        chat, rows = answer
        ident = str(chat.get("id") or (listed or {}).get("id"))
        what = f"room {ident}"
        merged = {**(listed or {}), **{k: v for k, v in chat.items() if k != "last_message"}}
        if listed is None:
            merged["last_message"] = last_message(rows)
        record = self._room({**merged, "id": ident}, what)
        messages: list[Record] = []
        if self.with_messages:
            messages = [
                self.messages.record(
                    {**row, "room_id": ident},
                    what,
                    required_time="send_date",
                    optional_times=("read_date",),
                )
                for row in rows
            ]
            messages.sort(key=lambda m: (m["send_date"], len(m["id"]), m["id"]))
        return record, messages

    def listed(self, room: Record) -> Record:
        """A room as the list has it (HappyTalk did not know it when asked by id).

        Raises:
            HappyTalkResponseError: As `read`.
        """
        return self._room(room, f"room {room['id']}")

    def listed_unit(self, room: Record) -> Unit:
        """A listed room's unit, from its id and opening time alone.

        `room_list_page` checked both: a room whose other fields will not convert is still set
        aside by them.
        """
        opened = dt.datetime.strptime(room["reg_date"], API_FORMAT)  # noqa: DTZ007 - wall clock
        return Unit.room(str(room["id"]), to_instant(opened, self.zone))

    def _room(self, room: Record, what: str) -> Record:
        return self.rooms.record(
            room,
            what,
            required_time="reg_date",
            optional_times=("complate_date",),
            string_lists=frozenset({"tags"}),
        )


def last_message(rows: list[Record]) -> str | None:
    """The text of a room's last message, agent memos aside, as the room list gives it.

    None when that message has no text (HappyTalk's `null`), not the text 'None'.
    """
    said = [row for row in rows if row.get("type") != "M"]
    said.sort(
        key=lambda row: (str(row.get("send_date")), len(str(row.get("id"))), str(row.get("id")))
    )
    if not said:
        return ""
    contents = said[-1].get("contents")
    return None if contents is None else str(contents)
