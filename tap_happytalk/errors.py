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
    """HappyTalk answered `result: fail` for a window."""


class HappyTalkUnavailableError(TapHappyTalkError):
    """HTTP failures persisted through every retry, or the request cannot succeed."""


class HappyTalkResponseError(TapHappyTalkError):
    """HappyTalk answered with something that is not a service-history response."""


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of `secret` in `text`, so no message can leak the token."""
    if not secret:
        return text
    return text.replace(secret, "********")
