"""HappyTalk requests for a window: the POST, its retries, its splitting, what an answer means.

Retries live here and only here: HTTP 429 and 5xx, timeouts and broken connections are
retried with exponential backoff and full jitter, or after the server's `Retry-After` (which
pauses every request, through the shared `RequestPacer`). A window that still fails is asked
again in halves. Failures that no retry can mend (a redirect, a certificate that fails
verification, an unknown host, an invalid URL, HTTP 4xx) end the run at once.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import socket
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec
import requests
from singer_sdk import metrics

from tap_happytalk.errors import (
    HappyTalkRefusedError,
    HappyTalkResponseError,
    HappyTalkUnavailableError,
    fail_code_advice,
    redact,
)
from tap_happytalk.pacing import PacerClosedError, RequestPacer

if TYPE_CHECKING:
    from tap_happytalk.endpoints import Endpoint
    from tap_happytalk.settings import Secret
    from tap_happytalk.windows import DayWindow

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 60.0
RETRY_AFTER_CAP_SECONDS = 300.0
TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
# What no retry can mend, with what to check. Tried in order: an SSLError is a ConnectionError.
PERMANENT_TRANSPORT_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (
        requests.exceptions.SSLError,
        (
            "the TLS certificate of {host} failed verification; check api_url, and that this "
            "machine trusts the certificate (REQUESTS_CA_BUNDLE for a private CA)"
        ),
    ),
    (
        socket.gaierror,
        "the host name {host} could not be resolved; check api_url and this machine's DNS",
    ),
    (
        requests.exceptions.InvalidURL,
        "{url} is not a valid URL; check api_url",
    ),
    (
        requests.exceptions.InvalidSchema,
        "{url} is not an http(s) URL; check api_url",
    ),
)
# A day HappyTalk keeps failing to answer is asked again in halves, down to this size; the
# halves get one retry each, so a hopeless day costs a bounded number of requests.
SMALLEST_SPLIT = dt.timedelta(minutes=15)
SPLIT_RETRIES = 1
FAIL_DETAIL_KEYS = ("code", "error_code", "fail_code", "message", "msg", "error", "reason")

logger = logging.getLogger(__name__)


class HappyTalkClient:
    """Posts service-history requests; safe to share between threads."""

    def __init__(  # noqa: PLR0913 - each argument is a setting
        self,
        *,
        api_url: str,
        endpoint: Endpoint,
        token: Secret,
        timeout_seconds: float,
        max_retries: int,
        user_agent: str,
        pacer: RequestPacer,
        stream_name: str,
    ) -> None:
        """Prepare a client; no connection is made until the first request."""
        self.url = api_url + endpoint.path
        self.host = urlsplit(api_url).hostname or api_url
        self._endpoint = endpoint
        self._token = token
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._user_agent = user_agent
        self._pacer = pacer
        self._stopping = threading.Event()
        self._local = threading.local()
        self.metrics = RequestMetrics(stream_name, endpoint.path)

    def __repr__(self) -> str:
        """Where it posts; never the token."""
        return f"HappyTalkClient({self.url!r})"

    @property
    def _session(self) -> requests.Session:
        """One keep-alive session per thread: `requests.Session` is not thread-safe."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = self._user_agent
            self._local.session = session
        return session

    def post(self, window: DayWindow) -> list[tuple[DayWindow, bytes]]:
        """HappyTalk's answers for `window`, undecoded (compact while they wait their turn).

        One answer, or one per piece when HappyTalk kept timing out or failing with 5xx on the
        whole window: then it is asked again in halves, down to `SMALLEST_SPLIT`. Each answer
        comes with the piece it answers.

        Raises:
            HappyTalkUnavailableError: HTTP failures outlasted every retry and every split.
        """
        return self._post_or_split(window, self._max_retries, piece=False)

    def close(self) -> None:
        """Stop: requests still waiting to retry give up at once, so the run can end."""
        self._stopping.set()
        self._pacer.close()

    def _post_or_split(
        self, window: DayWindow, retries: int, *, piece: bool
    ) -> list[tuple[DayWindow, bytes]]:
        try:
            return [(window, self._post(window, retries, piece=piece))]
        except _RetriesExhaustedError as exhausted:
            splittable = not exhausted.throttled and not self._stopping.is_set()
            halves = window.halves(SMALLEST_SPLIT) if splittable else None
            if halves is None:
                split = " (split as small as the tap goes)" if piece and splittable else ""
                raise HappyTalkUnavailableError(f"{exhausted}{split}") from None
            logger.warning(
                "Window %s: HappyTalk keeps failing (%s); asking for it in halves",
                window,
                exhausted.problem,
            )
            return [
                answer
                for half in halves
                for answer in self._post_or_split(half, SPLIT_RETRIES, piece=True)
            ]

    def _post(self, window: DayWindow, retries: int, *, piece: bool) -> bytes:
        for retry in range(retries + 1):
            try:
                with self._pacer.slot():
                    content = self._attempt(window, retry=retry, piece=piece)
            except PacerClosedError:  # noqa: PERF203 - retrying is the point
                msg = f"the run stopped before asking HappyTalk for {window}"
                raise HappyTalkUnavailableError(msg) from None
            except _TransientError as failure:
                if retry == retries or self._stopping.is_set():
                    msg = (
                        f"HappyTalk did not answer POST {self.url} for {window} after "
                        f"{retry + 1} attempts: {failure.problem}"
                    )
                    raise _RetriesExhaustedError(msg, failure) from None
                self._wait_before_retry(failure, retry + 1, retries, window)
            else:
                self._pacer.succeeded()
                return content
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _wait_before_retry(
        self, failure: _TransientError, retry: int, retries: int, window: DayWindow
    ) -> None:
        """Back off this request; when HappyTalk asked to slow down, pause every request."""
        if failure.throttled:
            delay = failure.retry_after if failure.retry_after is not None else _backoff(retry)
            self._pacer.throttled(delay)
            logger.warning(
                "Window %s: %s; all requests pause %.1fs, then at most %d at once (retry %d of %d)",
                window,
                failure.problem,
                delay,
                self._pacer.limit,
                retry,
                retries,
            )
            return  # the pacer holds this request back with the others
        delay = _backoff(retry)
        logger.warning(
            "Window %s: %s; retry %d of %d in %.1fs",
            window,
            failure.problem,
            retry,
            retries,
            delay,
        )
        self._stopping.wait(delay)

    def _body(self, window: DayWindow) -> bytes:
        """The request body; built at the last moment, so the token is held in one place."""
        return msgspec.json.encode(
            {
                "token": self._token.reveal(),
                "start_date": window.api_start,
                "end_date": window.api_end,
                **self._endpoint.body,
            }
        )

    def _attempt(self, window: DayWindow, *, retry: int, piece: bool) -> bytes:
        """Send once; raise `_TransientError` if the failure is worth retrying."""
        started = time.monotonic()
        status: int | None = None
        try:
            # Never follow a redirect: requests would POST the body, token and all, to
            # wherever the Location header points.
            response = self._session.post(
                self.url,
                data=self._body(window),
                headers=JSON_HEADERS,
                timeout=self._timeout,
                allow_redirects=False,
            )
            status = response.status_code
        except requests.Timeout:
            raise _TransientError(f"no answer within {self._timeout:g}s") from None
        except TRANSIENT_EXCEPTIONS as exc:
            self._raise_if_permanent(exc, window)
            raise _TransientError(f"connection failed ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            self._raise_if_permanent(exc, window)
            msg = f"POST {self.url} for {window} failed: {type(exc).__name__}"
            raise HappyTalkUnavailableError(msg) from None
        finally:
            self.metrics.attempted(time.monotonic() - started, status, retry=retry, piece=piece)

        if response.is_redirect or 300 <= status < 400:  # noqa: PLR2004 - HTTP's own numbers
            target = urlsplit(response.headers.get("Location", "")).hostname or "no host given"
            msg = (
                f"HappyTalk answered HTTP {status} to POST {self.url} for {window}, redirecting "
                f"to {target}; the tap follows no redirect, since it would carry the token "
                "there: check api_url"
            )
            raise HappyTalkUnavailableError(msg)
        if status == 429 or status >= 500:  # noqa: PLR2004 - HTTP's own numbers
            wait = _retry_after(response.headers.get("Retry-After"))
            throttled = status == 429 or wait is not None  # noqa: PLR2004
            raise _TransientError(f"HTTP {status}", wait, throttled=throttled)
        if status != 200:  # noqa: PLR2004
            hint = (
                f" (no '{self._endpoint.name}' endpoint at this URL: check the `endpoint` "
                "setting, customer or bnd, and api_url)"
                if status in {404, 405}
                else ""
            )
            msg = f"HappyTalk answered HTTP {status} to POST {self.url} for {window}{hint}"
            raise HappyTalkUnavailableError(msg)
        return response.content

    def _raise_if_permanent(self, failure: Exception, window: DayWindow) -> None:
        """End the run at once for a transport failure that no retry can mend."""
        causes = _causes(failure)
        for kind, advice in PERMANENT_TRANSPORT_FAILURES:
            if any(isinstance(cause, kind) for cause in causes):
                what = advice.format(host=self.host, url=self.url)
                msg = f"HappyTalk cannot be reached for {window}: {what}"
                raise HappyTalkUnavailableError(msg) from None

    def read_answer(self, content: bytes, window: DayWindow) -> list[dict[str, Any]]:
        """The records in HappyTalk's answer for `window`, in the order it sent them.

        Raises:
            HappyTalkRefusedError: HappyTalk answered `result: fail`.
            HappyTalkResponseError: The answer is not a service-history response.
        """
        try:
            body = msgspec.json.decode(content)
        except msgspec.DecodeError:
            text = content[:120].decode("utf-8", errors="replace")
            snippet = redact(text, self._token.reveal()).replace("\n", " ")
            msg = f"HappyTalk's answer for {window} is not JSON: {snippet!r}"
            raise HappyTalkResponseError(msg) from None
        if not isinstance(body, dict):
            msg = f"HappyTalk's answer for {window} is not a JSON object"
            raise HappyTalkResponseError(msg)
        return self._records(body, window)

    def _records(self, body: dict[str, Any], window: DayWindow) -> list[dict[str, Any]]:
        result = body.get("result")
        if result == "fail":
            detail = self._fail_detail(body)
            advice = fail_code_advice(body.get("code"), window)
            msg = f"HappyTalk refused the request for {window}: {detail}"
            raise HappyTalkRefusedError(f"{msg}: {advice}" if advice else msg)
        if result != "success":
            msg = f"HappyTalk's answer for {window} has result {result!r}, not 'success'"
            raise HappyTalkResponseError(msg)
        data = body.get("data")
        if data is None:
            # An empty day may come without a list; say so, since it could also hide a fault.
            logger.warning("HappyTalk answered %s without 'data': taken as no events", window)
            return []
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            msg = f"HappyTalk's answer for {window} has 'data' that is not a list of records"
            raise HappyTalkResponseError(msg)
        return data

    def _fail_detail(self, body: dict[str, Any]) -> str:
        """HappyTalk's code and message, whatever names it gives them."""
        known = [body[key] for key in FAIL_DETAIL_KEYS if body.get(key) is not None]
        known = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in known]
        if any(known):
            detail = " ".join(value for value in known if value)
        else:
            rest = {k: v for k, v in body.items() if k not in {"result", "data"}}
            detail = json.dumps(rest, ensure_ascii=False) if rest else "no code or message given"
        return redact(detail, self._token.reveal())


class _TransientError(Exception):
    """A failure worth retrying: what went wrong, and whether HappyTalk asked to slow down."""

    def __init__(
        self, problem: str, retry_after: float | None = None, *, throttled: bool = False
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after
        self.throttled = throttled


class _RetriesExhaustedError(HappyTalkUnavailableError):
    """Every retry of one request failed; the window may still be asked in halves."""

    def __init__(self, message: str, last: _TransientError) -> None:
        super().__init__(message)
        self.problem = last.problem
        self.throttled = last.throttled


JSON_HEADERS = {"Content-Type": "application/json"}


class RequestMetrics:
    """The SDK's HTTP metrics for one stream's requests, safe to share between threads.

    Every attempt logs an `http_request_duration` timer point, tagged with its HTTP status
    (none for a transport failure) and whether it was a retry or a piece of a split window.
    `http_request_count` counters, one per kind of request (window, retry, split piece), are
    logged at `close()`, and on the SDK's interval while the run goes on.
    """

    KINDS = ("window", "retry", "split")

    def __init__(self, stream: str, endpoint: str) -> None:
        """Meter requests of `stream` to `endpoint` (a path)."""
        self._tags: dict[str, Any] = {
            metrics.Tag.STREAM: stream,
            metrics.Tag.ENDPOINT: endpoint,
        }
        self._logger = metrics.get_metrics_logger()
        self._lock = threading.Lock()
        self._counters = {
            kind: metrics.http_request_counter(stream, endpoint, request_kind=kind)
            for kind in self.KINDS
        }

    def attempted(self, seconds: float, status: int | None, *, retry: int, piece: bool) -> None:
        """One request went out and came back (or failed) after `seconds`."""
        kind = "retry" if retry else "split" if piece else "window"
        succeeded = status is not None and status < 300  # noqa: PLR2004 - HTTP's own numbers
        point = metrics.Point(
            "timer",
            metric=metrics.Metric.HTTP_REQUEST_DURATION,
            value=seconds,
            tags={
                **self._tags,
                metrics.Tag.HTTP_STATUS_CODE: status,
                metrics.Tag.STATUS: metrics.Status.SUCCEEDED
                if succeeded
                else metrics.Status.FAILED,
                "request_kind": kind,
            },
        )
        with self._lock:
            metrics.log(self._logger, point)
            self._counters[kind].increment()

    def close(self) -> None:
        """Log the final counts."""
        with self._lock:
            for counter in self._counters.values():
                counter.exit()


def _causes(failure: BaseException) -> list[BaseException]:
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


def _backoff(attempt: int) -> float:
    """Full-jitter exponential backoff: spreads retries of parallel requests apart."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header, in seconds or HTTP-date form."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", which Python counts as a digit
        return min(float(value), RETRY_AFTER_CAP_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when.timestamp() - time.time()), RETRY_AFTER_CAP_SECONDS)
