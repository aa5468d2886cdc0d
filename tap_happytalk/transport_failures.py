"""Which transport failures no retry can mend, and what to check for each.

`transport.HappyTalkClient` retries anything on the wire except these: it asks
`permanent_failure` first, and ends the run with its advice.
"""

from __future__ import annotations

import difflib
import errno
import socket
import ssl
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from collections.abc import Callable


def _is_unknown_host(cause: BaseException) -> bool:
    # Only "no such name": a resolver that is briefly unreachable (EAI_AGAIN) may recover.
    unknown = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
    return isinstance(cause, socket.gaierror) and cause.errno in unknown


def _is_refused(cause: BaseException) -> bool:
    return isinstance(cause, ConnectionRefusedError) or (
        isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
    )


def was_refused(failure: BaseException) -> bool:
    """Whether the connection was refused: nothing listens at that address (now)."""
    return any(_is_refused(cause) for cause in causes(failure))


def _is_plain_http_behind_https(cause: BaseException) -> bool:
    return isinstance(cause, ssl.SSLError) and "WRONG_VERSION_NUMBER" in str(cause)


# What no retry can mend, with what to check; anything else on the wire is retried.
PERMANENT_TRANSPORT_FAILURES: tuple[tuple[Callable[[BaseException], bool], str], ...] = (
    (
        lambda cause: isinstance(cause, ssl.SSLCertVerificationError),
        (
            "the TLS certificate of {host} failed verification; check api_url, and that this "
            "machine trusts the certificate (REQUESTS_CA_BUNDLE for a private CA)"
        ),
    ),
    (
        _is_plain_http_behind_https,
        "{host} does not speak TLS on that port; check that api_url should be https",
    ),
    (
        _is_unknown_host,
        "the host name {host} could not be resolved; check api_url and this machine's DNS",
    ),
    (
        lambda cause: isinstance(cause, requests.exceptions.ProxyError),
        "the proxy refused the connection; check HTTPS_PROXY / HTTP_PROXY and NO_PROXY",
    ),
    (
        lambda cause: isinstance(cause, requests.exceptions.InvalidURL),
        "{url} is not a valid URL; check api_url",
    ),
    (
        lambda cause: isinstance(
            cause, (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)
        ),
        "{url} is not an http(s) URL; check api_url",
    ),
)


def permanent_failure(failure: BaseException, host: str, url: str) -> str | None:
    """What to check about a transport failure that no retry can mend; None for any other."""
    found = causes(failure)
    for is_it, advice in PERMANENT_TRANSPORT_FAILURES:
        if any(is_it(cause) for cause in found):
            detail = advice.format(host=host, url=url)
            if is_it is _is_unknown_host:
                detail += _did_you_mean_loopback(host)
            return detail
    return None


def causes(failure: BaseException) -> list[BaseException]:
    """The failure and what it wraps: requests keeps urllib3's reason in its arguments."""
    found: list[BaseException] = []
    pending: list[BaseException] = [failure]
    while pending and len(found) < 10:  # noqa: PLR2004 - a bound, not a meaning
        cause = pending.pop()
        found.append(cause)
        pending.extend(arg for arg in cause.args if isinstance(arg, BaseException))
        reason = getattr(cause, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
        if cause.__cause__ is not None:
            pending.append(cause.__cause__)
        if cause.__context__ is not None:
            pending.append(cause.__context__)
    return found


def _did_you_mean_loopback(host: str) -> str:
    """A hint for a host name one typo away from this machine's (`localhst`)."""
    meant = difflib.get_close_matches(host.lower(), ["localhost"], n=1, cutoff=0.75)
    return f" (did you mean {meant[0]}?)" if meant else ""
