"""The errors this tap reports, each one line a person can act on.

They are raised where the fact is known and turned into a single log line, with a non-zero
exit, at the command-line edge (`TapHappyTalk.invoke`).
"""

from __future__ import annotations


class TapHappyTalkError(Exception):
    """Base of every error this tap reports as one line."""


class ConfigError(TapHappyTalkError):
    """A setting is missing, malformed or out of range; raised before any request."""

    def __init__(self, setting: str, problem: str) -> None:
        """Name the setting and what is wrong with it."""
        super().__init__(f"invalid setting '{setting}': {problem}")
        self.setting = setting


class HappyTalkRefusedError(TapHappyTalkError):
    """HappyTalk answered `result: fail`; `code` is its fail code as a number, if it is one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        """Say what was refused, keeping HappyTalk's code for callers that decide on it."""
        super().__init__(message)
        self.code = code


class HappyTalkUnavailableError(TapHappyTalkError):
    """HappyTalk could not be asked, or did not answer over HTTP in a usable way.

    Failures that outlasted every retry, and those no retry can mend: a redirect, HTTP 4xx,
    a certificate that fails verification, an unknown host.
    """


class UnitUnavailableError(HappyTalkUnavailableError):
    """One unit (a window, a day's list, a room) could not be had after every retry."""


class IncompleteDataError(TapHappyTalkError):
    """The run went through, but units were set aside or given up: the data is incomplete.

    Raised once every stream has synced and written its STATE; the command line reports it
    as a WARNING and exits with `INCOMPLETE_EXIT_CODE`, not 1.
    """


class StoppedError(TapHappyTalkError):
    """A signal stopped the run before the end of its range.

    What it read is complete up to its final STATE, and the rest is for the next run. The
    command line says so in one line and exits with 1: the data is not complete.
    """


# A run's exit code when it ended with units set aside (`IncompleteDataError`).
INCOMPLETE_EXIT_CODE = 3


class HappyTalkResponseError(TapHappyTalkError):
    """HappyTalk answered with something that is not the answer its API documents."""


class UndocumentedAnswerError(HappyTalkResponseError):
    """An answer of a shape HappyTalk does not document, which asking again may mend.

    `data` of the wrong shape, a page past `total_count` that is not empty, a room answer
    without its room: the consultation calls retry these as transient, and set their unit
    aside if they persist, so that nothing is marked done without its data.
    """


class UnreadableDayError(HappyTalkResponseError):
    """A day's room list that cannot be read exactly: set the day aside, ask it again later.

    Raised by `streams.room_list`: a page that repeats its predecessor, passes that never
    agree, rooms opened in one second that no single answer can hold.
    """

    def __init__(self, day: str, problem: str) -> None:
        """Name the day and what was wrong with its list."""
        super().__init__(
            f"HappyTalk's list of the rooms of {day} {problem}, so it cannot be read exactly"
        )
        self.day = day


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of `secret` in `text`, so no message can leak the token."""
    if not secret:
        return text
    return text.replace(secret, "********")
