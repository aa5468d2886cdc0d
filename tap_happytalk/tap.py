"""The HappyTalk tap: its settings, its stream, and its command-line edge."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_happytalk.errors import TapHappyTalkError, redact
from tap_happytalk.settings import CONFIG_SCHEMA, Settings
from tap_happytalk.streams import ServiceHistoryStream
from tap_happytalk.writer import StateFlushingWriter

if TYPE_CHECKING:
    from singer_sdk.plugin_base import _ConfigInput

TOKEN_ENV = "TAP_HAPPYTALK_TOKEN"  # noqa: S105 - the name of a variable, not a token


class TapHappyTalk(Tap):
    """Singer tap for HappyTalk's service history."""

    name = "tap-happytalk"
    package_name = "tap-happytalk"
    config_jsonschema = CONFIG_SCHEMA
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
        self.logger.info(
            "%s: stopping after the record being written; the final STATE says where the "
            "next run resumes",
            signal.Signals(signum).name,
        )
        for stream in self.streams.values():
            if isinstance(stream, ServiceHistoryStream):
                stream.request_stop()

    @override
    def discover_streams(self) -> list[ServiceHistoryStream]:
        return [ServiceHistoryStream(tap=self)]

    @override
    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        state: Any = None,
        catalog: Any = None,
    ) -> None:
        """Run the tap; any error it can explain ends the run with one line and exit code 1.

        The SDK would print a traceback, and its config errors over several lines.
        """
        token = (config.config if config else {}).get("token") or os.environ.get(TOKEN_ENV)
        try:
            super().invoke(
                about=about,
                about_format=about_format,
                config=config,
                state=state,
                catalog=catalog,
            )
        except ConfigValidationError as exc:
            problems = "; ".join(exc.errors) or str(exc)
            cls._fail(redact(f"invalid config: {problems}", str(token or "")))
        except TapHappyTalkError as exc:
            cls._fail(redact(str(exc), str(token or "")))
        except BrokenPipeError:
            # Nothing more can reach the target; keep Python from trying again at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            cls._fail(
                "the target stopped reading the tap's output (broken pipe); the last STATE "
                "it received is where the next run resumes"
            )

    @classmethod
    def _fail(cls, message: str) -> None:
        cls.logger.error(message)
        sys.exit(1)


if __name__ == "__main__":
    TapHappyTalk.cli()
