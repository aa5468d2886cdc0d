"""The HappyTalk tap: what it can do, its streams, the run's pacer, and how it stops."""

from __future__ import annotations

import signal
import sys
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import Tap
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities
from singer_sdk.singerlib import Catalog
from typing_extensions import override

from tap_happytalk.cli import OneLineErrorTap
from tap_happytalk.concurrency import ConcurrencyController
from tap_happytalk.config_schema import CONFIG_SCHEMA
from tap_happytalk.pacing import RequestPacer
from tap_happytalk.settings import Settings
from tap_happytalk.streams.base import HappyTalkStream
from tap_happytalk.streams.chat_messages import ChatMessagesStream
from tap_happytalk.streams.chat_rooms import ChatRoomsStream
from tap_happytalk.streams.chat_state import upgraded
from tap_happytalk.streams.service_history import ServiceHistoryStream
from tap_happytalk.writer import StateFlushingWriter

if TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.helpers.capabilities import CapabilitiesEnum


class TapHappyTalk(OneLineErrorTap):
    """Singer tap for HappyTalk: service history and, opt-in, consultations with their messages."""

    name = "tap-happytalk"
    package_name = "tap-happytalk"
    stream_names = (ServiceHistoryStream.name, ChatRoomsStream.name, ChatMessagesStream.name)
    config_jsonschema = CONFIG_SCHEMA
    # What this tap really does, stated once: meltano.yml and the Hub file are tested against
    # it. No `batch`: the SDK's BATCH cannot keep STATE behind its data (docs/STREAMS.md).
    # No `activate-version`: it means nothing for an incremental stream.
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]
    message_writer_class = StateFlushingWriter

    def __init__(self, **kwargs: Any) -> None:  # noqa: ANN401 - the SDK's own arguments
        """Build the tap; with `validate_config`, check every setting before any request."""
        self._stopping = False
        super().__init__(**kwargs)
        if kwargs.get("validate_config", True):
            Settings.from_config(self.config)
        if threading.current_thread() is threading.main_thread():
            # The SDK's handlers exit wherever the signal lands, even inside the write of a
            # record, tearing that line. Ours ask the stream to stop at the next record.
            signal.signal(signal.SIGTERM, self._request_stop)
            signal.signal(signal.SIGINT, self._request_stop)

    def _request_stop(self, signum: int, _frame: object) -> None:
        if self._stopping:
            self.logger.warning("Second %s: stopping now", signal.Signals(signum).name)
            sys.exit(1)
        self._stopping = True
        type(self).stopped_by = signal.Signals(signum).name
        self.logger.info(
            "%s: stopping after the record being written; the final STATE says where the "
            "next run resumes",
            signal.Signals(signum).name,
        )
        for stream in self.streams.values():
            if isinstance(stream, HappyTalkStream):
                stream.request_stop()

    def note_incomplete(self, stream: str, units: int) -> None:
        """A stream ends its run with this many units failed (set aside, or given up)."""
        if units:
            type(self).incomplete[stream] = units
        else:
            type(self).incomplete.pop(stream, None)

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """The SDK's state loading, after carrying a previous release's state forward."""
        super().load_state(upgraded(state))

    @cached_property
    def pacer(self) -> RequestPacer:
        """How fast the run may ask, shared by every stream: a 429 slows the whole run.

        One concurrency controller a run (one host): service history and both chat phases
        feed it and are held to it, so what one stream learns the next starts from.
        """
        settings = Settings.from_config(self.config)
        controller = (
            ConcurrencyController(settings.max_concurrent_requests)
            if settings.adaptive_concurrency
            else None
        )
        return RequestPacer(
            settings.max_concurrent_requests, settings.max_requests_per_minute, controller
        )

    @property
    @override
    def streams(self) -> dict[str, Stream]:
        """The SDK's streams, service history first: a fault in the chats must not hold it up.

        The SDK orders streams by name, which would sync the chats first.
        """
        streams = super().streams
        return dict(sorted(streams.items(), key=lambda item: item[0] != ServiceHistoryStream.name))

    @override
    def setup_mapper(self) -> None:
        """The SDK's stream maps, checked against every stream, selected or not.

        The SDK checks a stream's map against its selected properties, so a map for a stream
        the catalog does not select (the opt-in chat streams) would fail every run. A stream
        that is not selected sends nothing, so its whole schema is as good as any.
        """
        super(Tap, self).setup_mapper()  # the mapper alone; Tap's own would register below
        catalog = Catalog.from_dict(self.catalog.to_dict())
        for entry in catalog.streams:
            if not entry.metadata.resolve_selection().get((), False):
                entry.metadata.root.selected = True
        self.mapper.register_raw_streams_from_catalog(catalog)

    @override
    def discover_streams(self) -> list[Stream]:
        streams: list[Stream] = [
            ServiceHistoryStream(tap=self),
            ChatRoomsStream(tap=self),
            ChatMessagesStream(tap=self),
        ]
        if self.chosen_streams:
            # `--select`: the SDK selects, without a catalog, the streams selected by default,
            # and writes the same into a discovered catalog's metadata.
            for stream in streams:
                stream.selected_by_default = stream.name in self.chosen_streams
        return streams


if __name__ == "__main__":
    TapHappyTalk.cli()
