"""Singer messages to stdout: msgspec-encoded UTF-8, flushed at each STATE, not each record.

The SDK's writers flush after every message. Flushing at STATE keeps what matters: a STATE
reaches the target only after every record before it (one buffer, one order), and whatever a
killed run leaves behind is a prefix of the stream that its last STATE describes.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import SingerMessageType
from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message


class StateFlushingWriter(MsgSpecWriter):
    """The SDK's msgspec writer, without its flush after every record."""

    @override
    def write_message(self, message: Message) -> None:
        stdout = sys.stdout.buffer
        stdout.write(self.format_message(message))
        if message.type != SingerMessageType.RECORD:
            stdout.flush()
