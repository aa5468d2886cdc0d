"""The errors this tap reports, each one line a person can act on.

They are raised where the fact is known and turned into a single log line, with a non-zero
exit, at the command-line edge (`TapHappyTalk.invoke`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tap_happytalk.windows import DayWindow

# HappyTalk's documented fail codes of its customer-token APIs, as advice a person can act on.
FAIL_CODE_ADVICE = {
    -501: (
        "the token is missing or invalid; check the `token` setting against the HappyTalk "
        "console (Settings > Company information > System information > TOKEN)"
    ),
    -502: (
        "this token may not use this API; ask your HappyTalk administrator or HappyTalk to "
        "allow it, or use a token that may"
    ),
    -504: (
        "HappyTalk says the range is longer than it allows, which is a fault in the tap's own "
        "windows: please report it to tap-happytalk with the window {window}"
    ),
}


class TapHappyTalkError(Exception):
    """Base of every error this tap reports as one line."""


class ConfigError(TapHappyTalkError):
    """A setting is missing, malformed or out of range; raised before any request."""

    def __init__(self, setting: str, problem: str) -> None:
        """Name the setting and what is wrong with it."""
        super().__init__(f"invalid setting '{setting}': {problem}")
        self.setting = setting


class HappyTalkRefusedError(TapHappyTalkError):
    """HappyTalk answered `result: fail` for a window."""


class HappyTalkUnavailableError(TapHappyTalkError):
    """HTTP failures persisted through every retry, or the request cannot succeed."""


class HappyTalkResponseError(TapHappyTalkError):
    """HappyTalk answered with something that is not a service-history response."""


def fail_code_advice(code: object, window: DayWindow | str) -> str | None:
    """What to do about a documented fail `code` (an int, or its text); None if unknown."""
    try:
        number = int(str(code).strip())
    except ValueError:
        return None
    advice = FAIL_CODE_ADVICE.get(number)
    return advice.format(window=window) if advice else None


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of `secret` in `text`, so no message can leak the token."""
    if not secret:
        return text
    return text.replace(secret, "********")
