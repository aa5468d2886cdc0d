"""The POST to HappyTalk, its retries and its failure classes: the one client every call uses.

Every HappyTalk call (service history, the room list, one room) goes through one client, so
the transport is decided in one place:
- HTTP 429 and 5xx, timeouts and broken connections are retried with exponential backoff and
  full jitter, or after the server's `Retry-After`, which pauses every request of the run
  through the shared `RequestPacer`;
- every answer's outcome and latency go to the pacer, whose concurrency controller decides
  how many requests may be in flight;
- a refused connection is retried only once the host has answered this client: refused from
  the first request on, nothing is listening there (a server not started, a wrong port), and
  waiting through every retry would only delay saying so;
- an answer whose reader finds it undocumented (`ask`, for the consultation calls) is
  retried the same way;
- what no retry can mend (a redirect, a certificate that fails verification, an unknown host,
  a proxy that refuses, an invalid URL, HTTP 4xx) ends the run at once, in one line.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import msgspec
import requests

from tap_happytalk.answers import decode
from tap_happytalk.concurrency import Outcome
from tap_happytalk.errors import (
    HappyTalkUnavailableError,
    UndocumentedAnswerError,
    UnitUnavailableError,
    redact,
)
from tap_happytalk.metrics import RequestMetrics
from tap_happytalk.pacing import PacerClosedError, RequestPacer
from tap_happytalk.transport_failures import permanent_failure, was_refused

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from tap_happytalk.endpoints import Api
    from tap_happytalk.settings import Secret

Answer = TypeVar("Answer")

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 60.0
RETRY_AFTER_CAP_SECONDS = 300.0
JSON_HEADERS = {"Content-Type": "application/json"}

logger = logging.getLogger(__name__)


class HappyTalkClient:
    """Posts to HappyTalk's customer-token APIs; safe to share between threads."""

    def __init__(  # noqa: PLR0913 - each argument is a setting
        self,
        *,
        api_url: str,
        token: Secret,
        timeout_seconds: float,
        max_retries: int,
        user_agent: str,
        pacer: RequestPacer,
        stream_name: str,
        trust_proxy_env: bool = True,
    ) -> None:
        """Prepare a client; no connection is made until the first request.

        `trust_proxy_env` false ignores HTTP(S)_PROXY, for a plain-http URL whose token must
        not travel through a proxy nobody chose for it.
        """
        self.api_url = api_url
        self.host = urlsplit(api_url).hostname or api_url
        self._token = token
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._user_agent = user_agent
        self._trust_proxy_env = trust_proxy_env
        self._pacer = pacer
        self._stopping = threading.Event()
        self._answered = threading.Event()  # the host has answered this client at least once
        self._local = threading.local()
        self.metrics = RequestMetrics(stream_name)

    def __repr__(self) -> str:
        """Where it posts; never the token."""
        return f"HappyTalkClient({self.api_url!r})"

    @property
    def _session(self) -> requests.Session:
        """One keep-alive session per thread: `requests.Session` is not thread-safe."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = self._user_agent
            session.trust_env = self._trust_proxy_env
            self._local.session = session
        return session

    def allowed_in_flight(self) -> int:
        """How many requests the run may have in flight now (the pacer's allowance)."""
        return self._pacer.limit

    def in_flight_level(self) -> tuple[int, int] | None:
        """The allowance found now and its peak this run; None when it is fixed, not found."""
        controller = self._pacer.controller
        return None if controller is None else (controller.limit, controller.peak)

    def close(self) -> None:
        """Stop the run: requests waiting to retry or to be admitted give up at once."""
        self._stopping.set()
        self._pacer.close()

    @property
    def stopping(self) -> bool:
        """True once the run or this client's sync is over: nothing more will be sent."""
        return self._stopping.is_set()

    def abandon(self) -> None:
        """This client's sync is over: its requests not yet sent never will be.

        Unlike `close`, the run's pacer stays open for the streams that follow.
        """
        self._stopping.set()

    def post(
        self,
        api: Api,
        fields: Mapping[str, object],
        what: str,
        *,
        kind: str,
        retries: int | None = None,
    ) -> bytes:
        """HappyTalk's answer to `fields` (and the token) at `api`, undecoded.

        `what` names the request in messages ("2024-03-01 00:00:00..23:59:59", "room X");
        `kind` tags its metrics (a retry is tagged `retry`).

        Raises:
            HappyTalkUnavailableError: HappyTalk could not be asked, or failures outlasted
                every retry (then a `RetriesExhaustedError`).
        """
        return self._with_retries(
            lambda attempt_kind: self._attempt(api, fields, what, attempt_kind),
            api,
            what,
            kind=kind,
            retries=self._max_retries if retries is None else retries,
        )

    def ask(
        self,
        api: Api,
        fields: Mapping[str, object],
        what: str,
        *,
        kind: str,
        read: Callable[[dict[str, Any]], Answer],
    ) -> Answer:
        """`read` of HappyTalk's decoded answer; an undocumented answer is asked again.

        `read` turns a successful answer into what the caller needs, raising
        `UndocumentedAnswerError` for an answer HappyTalk does not document: that is retried
        like a failed request, so a glitch costs a retry and a lasting one sets its unit aside.

        Raises:
            HappyTalkRefusedError: HappyTalk answered `result: fail` (never retried).
            HappyTalkUnavailableError: As `post`; the last undocumented answer is named.
        """

        def attempt(attempt_kind: str) -> Answer:
            content = self._attempt(api, fields, what, attempt_kind)
            try:
                return read(self.answer(content, what))
            except UndocumentedAnswerError as undocumented:
                # Its text can echo what HappyTalk sent, which a hostile answer makes the token.
                problem = redact(str(undocumented), self._token.reveal())
                raise _TransientError(problem, splittable=False) from None

        return self._with_retries(attempt, api, what, kind=kind, retries=self._max_retries)

    def _with_retries(
        self,
        attempt: Callable[[str], Answer],
        api: Api,
        what: str,
        *,
        kind: str,
        retries: int,
    ) -> Answer:
        """`attempt(kind)`, held to the run's pacer, until it succeeds or retries run out."""
        for retry in range(retries + 1):
            try:
                with self._pacer.slot():
                    result = attempt("retry" if retry else kind)
            except PacerClosedError:  # noqa: PERF203 - retrying is the point
                msg = f"the run stopped before asking HappyTalk for {what}"
                raise HappyTalkUnavailableError(msg) from None
            except _TransientError as failure:
                if retry == retries or self._stopping.is_set():
                    msg = (
                        f"HappyTalk did not answer POST {self.api_url}{api.path} for {what} after "
                        f"{retry + 1} attempts: {failure.problem}"
                    )
                    raise RetriesExhaustedError(msg, failure) from None
                self._wait_before_retry(failure, retry + 1, retries, what)
            else:
                self._pacer.succeeded()
                return result
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _wait_before_retry(
        self, failure: _TransientError, retry: int, retries: int, what: str
    ) -> None:
        """Back off this request; when HappyTalk asked to slow down, pause every request."""
        if failure.throttled:
            delay = failure.retry_after if failure.retry_after is not None else _backoff(retry)
            self._pacer.throttled(delay)
            logger.warning(
                "%s: %s; all requests pause %.1fs, then at most %d at once (retry %d of %d)",
                what,
                failure.problem,
                delay,
                self._pacer.limit,
                retry,
                retries,
            )
            return  # the pacer holds this request back with the others
        delay = _backoff(retry)
        logger.warning(
            "%s: %s; retry %d of %d in %.1fs", what, failure.problem, retry, retries, delay
        )
        self._stopping.wait(delay)

    def _attempt(self, api: Api, fields: Mapping[str, object], what: str, kind: str) -> bytes:
        """Send once; raise `_TransientError` if the failure is worth retrying."""
        if self._stopping.is_set():  # admitted after its sync was over: send nothing
            raise PacerClosedError
        url = self.api_url + api.path
        started = time.monotonic()
        status: int | None = None
        outcome = Outcome.OTHER
        try:
            # The body is built here, at the last moment, so the token is held in one place.
            # Redirects are never followed: requests would POST the body, token and all, to
            # wherever the Location header points.
            response = self._session.post(
                url,
                data=msgspec.json.encode({"token": self._token.reveal(), **fields}),
                headers=JSON_HEADERS,
                timeout=self._timeout,
                allow_redirects=False,
            )
            status = response.status_code
            outcome = _outcome(status, response.headers)
        except requests.Timeout:
            outcome = Outcome.TIMEOUT
            raise _TransientError(f"no answer within {self._timeout:g}s") from None
        except requests.exceptions.ChunkedEncodingError:
            # Cut off mid-answer: perhaps an answer too large, which a smaller window mends.
            raise _TransientError("the answer was cut off") from None
        except requests.RequestException as exc:
            self._raise_if_permanent(exc, url, what)
            if was_refused(exc):
                problem = f"connection refused ({self._is_it_running()})"
            else:
                problem = f"connection failed ({type(exc).__name__})"
            raise _TransientError(problem, splittable=False) from None
        finally:
            latency = time.monotonic() - started
            self.metrics.attempted(api.path, latency, status, kind)
            self._pacer.answered(outcome, latency)
        self._answered.set()

        if 300 <= status < 400:  # noqa: PLR2004 - HTTP's own numbers
            target = urlsplit(response.headers.get("Location", "")).hostname or "no host given"
            msg = (
                f"HappyTalk answered HTTP {status} to POST {url} for {what}, redirecting to "
                f"{target}; the tap follows no redirect, since it would carry the token there: "
                "check api_url"
            )
            raise HappyTalkUnavailableError(msg)
        if status == 429 or status >= 500:  # noqa: PLR2004 - HTTP's own numbers
            wait = _retry_after(response.headers.get("Retry-After"))
            throttled = status == 429 or wait is not None  # noqa: PLR2004
            raise _TransientError(f"HTTP {status}", wait, throttled=throttled)
        if status != 200:  # noqa: PLR2004
            hint = f" ({api.not_found})" if status in {404, 405} else ""
            msg = f"HappyTalk answered HTTP {status} to POST {url} for {what}{hint}"
            raise HappyTalkUnavailableError(msg)
        return response.content

    def _raise_if_permanent(self, failure: Exception, url: str, what: str) -> None:
        """End the run at once for a transport failure that no retry can mend."""
        detail = permanent_failure(failure, self.host, url)
        if detail is not None:
            msg = f"HappyTalk cannot be reached for {what}: {detail}"
            raise HappyTalkUnavailableError(msg) from None
        if not self._answered.is_set() and was_refused(failure):
            msg = (
                f"HappyTalk cannot be reached for {what}: the connection to {self._address()} "
                f"was refused, nothing listens there; {self._is_it_running()}"
            )
            raise HappyTalkUnavailableError(msg) from None

    def _address(self) -> str:
        parts = urlsplit(self.api_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{self.host}:{port}"

    def _is_it_running(self) -> str:
        return f"is HappyTalk (or the local server) running at {self.api_url}? check api_url"

    def redact(self, text: str) -> str:
        """`text` without the token: what HappyTalk sent may echo it."""
        return redact(text, self._token.reveal())

    def answer(self, content: bytes, what: str) -> dict[str, Any]:
        """HappyTalk's successful answer as a JSON object (see `answers.decode`)."""
        return decode(content, what, self._token.reveal())


class _TransientError(Exception):
    """A failure worth retrying: what went wrong, and what may mend it.

    `throttled`: HappyTalk asked to slow down (pause everyone; splitting would not help).
    `splittable`: asking for less might help (timeouts, 5xx, a cut-off answer), where a
    refused or reset connection says nothing about the size of the request.
    """

    def __init__(
        self,
        problem: str,
        retry_after: float | None = None,
        *,
        throttled: bool = False,
        splittable: bool = True,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after
        self.throttled = throttled
        self.splittable = splittable and not throttled


class RetriesExhaustedError(UnitUnavailableError):
    """Every retry of one request failed; a window may still be asked in halves."""

    def __init__(self, message: str, last: _TransientError) -> None:
        """Say what failed, keeping whether asking for less might help."""
        super().__init__(message)
        self.problem = last.problem
        self.splittable = last.splittable


def _outcome(status: int, headers: Mapping[str, str]) -> Outcome:
    """What an answer's status says about HappyTalk's load, for the concurrency controller."""
    if status == 429 or (status >= 500 and headers.get("Retry-After")):  # noqa: PLR2004
        return Outcome.THROTTLED
    if status >= 500:  # noqa: PLR2004 - HTTP's own numbers
        return Outcome.SERVER_ERROR
    return Outcome.OK if status == 200 else Outcome.OTHER  # noqa: PLR2004


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
