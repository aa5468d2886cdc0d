"""The errors this tap reports, each one line a person can act on.

They are raised where the fact is known and turned into a single log line, with a non-zero
exit, at the command-line edge (`TapHappyTalk.invoke`).
"""

from __future__ import annotations

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
    -503: "HappyTalk knows no such room or customer (it may have been deleted)",
    -504: (
        "HappyTalk says the range is longer than it allows, which is a fault in the tap's own "
        "windows: please report it to tap-happytalk, naming {what}"
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
    """HappyTalk answered `result: fail`; `code` is its fail code as a number, if it is one."""

    def __init__(self, message: str, code: object = None) -> None:
        """Say what was refused, keeping HappyTalk's code for callers that decide on it."""
        super().__init__(message)
        self.code = fail_code_number(code)


class HappyTalkUnavailableError(TapHappyTalkError):
    """HappyTalk could not be asked, or did not answer over HTTP in a usable way.

    Failures that outlasted every retry, and those no retry can mend: a redirect, HTTP 4xx,
    a certificate that fails verification, an unknown host.
    """


class HappyTalkResponseError(TapHappyTalkError):
    """HappyTalk answered with something that is not the answer its API documents."""


def fail_code_number(code: object) -> int | None:
    """HappyTalk's fail code as a number: it documents ints, and may send their text."""
    try:
        return int(str(code).strip())
    except ValueError:
        return None


def fail_code_advice(code: object, what: str) -> str | None:
    """What to do about a documented fail `code` for the request `what`; None if unknown."""
    number = fail_code_number(code)
    advice = FAIL_CODE_ADVICE.get(number) if number is not None else None
    return advice.format(what=what) if advice else None


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of `secret` in `text`, so no message can leak the token."""
    if not secret:
        return text
    return text.replace(secret, "********")
