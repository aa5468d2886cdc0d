"""The tap's settings as JSON Schema: what the SDK checks, `--about` lists, and Meltano shows.

Defaults, bounds and choices are stated here only; `settings.py` reads them from here.
"""

from __future__ import annotations

from singer_sdk import typing as th

from tap_happytalk.endpoints import CUSTOMER, ENDPOINTS, ENVIRONMENTS

MAX_LOOKBACK_MINUTES = 7 * 24 * 60
MAX_END_MARGIN_SECONDS = 24 * 60 * 60
MAX_RECHECK_DAYS = 30
MAX_GRACE_MINUTES = 7 * 24 * 60
NO_MAP = (None, "__NULL__")  # a stream map that removes its stream
MAX_IN_FLIGHT = 64
# max_concurrent_requests when it is not set. With adaptive concurrency it is the ceiling, and
# the highest one allowed, so that it is never what limits the tap; without, the fixed number of
# earlier releases, so `adaptive_concurrency: false` alone gives their behaviour back. Hence no
# `default` in the schema: the SDK would fill it in, and unset could not be told from set.
DEFAULT_CEILING = MAX_IN_FLIGHT
DEFAULT_FIXED_IN_FLIGHT = 4

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "token",
        th.StringType(min_length=1),
        required=True,
        secret=True,
        title="Token",
        description=(
            "Customer token from the HappyTalk console (Settings > Company information > "
            "System information > TOKEN). Sent only in the request body; never logged."
        ),
    ),
    th.Property(
        "start_date",
        th.StringType(min_length=1),
        required=True,
        title="Start date",
        description=(
            "First instant to extract, inclusive: a date (2024-01-01) or a date-time "
            "(2024-01-01T09:30:00). Without a UTC offset it is read in `timezone`."
        ),
        examples=["2024-01-01", "2024-01-01T00:00:00+09:00"],
    ),
    th.Property(
        "end_date",
        th.StringType(min_length=1),
        title="End date",
        description=(
            "Extract events strictly before this instant (exclusive); parsed like "
            "`start_date`. Default: now."
        ),
    ),
    th.Property(
        "endpoint",
        th.StringType(allowed_values=list(ENDPOINTS)),
        default=CUSTOMER.name,
        title="Endpoint",
        description=(
            "Which HappyTalk service-history API to call: `customer` "
            "(customer.happytalk.io/user/api/service_history/format/json, the documented one) "
            "or `bnd` (bnd.happytalk.io/user/api/service-history, the newer developer-center "
            "one, asked for `format: raw`). Both give the same records."
        ),
    ),
    th.Property(
        "api_environment",
        th.StringType(allowed_values=list(ENVIRONMENTS)),
        default="production",
        title="API environment",
        description=(
            "`production`, or `patch` for HappyTalk's patch environment "
            "(patch-customer.happytalk.io, patch-bnd.happytalk.io)."
        ),
    ),
    th.Property(
        "api_url",
        th.StringType(min_length=1),
        title="API URL",
        description=(
            "Base URL that replaces HappyTalk's host for every call (service history, chosen by "
            "`endpoint` and `api_environment`, and the consultation calls), for a proxy or a "
            "test server; each call's path is appended. Must be https, except on loopback or "
            "with `allow_unencrypted_http`."
        ),
    ),
    th.Property(
        "allow_unencrypted_http",
        th.BooleanType,
        default=False,
        title="Allow unencrypted HTTP",
        description=(
            "Send the token over plain http:// to an `api_url` that is not on this machine. "
            "Only for a trusted network path, such as a proxy that adds TLS; HappyTalk "
            "itself is https."
        ),
    ),
    th.Property(
        "timezone",
        th.StringType(min_length=1),
        default="Asia/Seoul",
        title="Time zone",
        description=(
            "IANA time zone of the API's naive timestamps and of its calendar days. "
            "HappyTalk uses Korea time."
        ),
    ),
    th.Property(
        "lookback_minutes",
        th.IntegerType(minimum=0, maximum=MAX_LOOKBACK_MINUTES),
        default=0,
        title="Lookback (minutes)",
        description=(
            "On incremental runs, start this many minutes before the bookmark, to pick up "
            "late-arriving events. Re-read events are sent again (upsert on `id`)."
        ),
    ),
    th.Property(
        "end_margin_seconds",
        th.IntegerType(minimum=0, maximum=MAX_END_MARGIN_SECONDS),
        default=300,
        title="End margin (seconds)",
        description=(
            "A run reads events only up to this many seconds before now (an `end_date` later "
            "than that waits too), and the next run continues from there: HappyTalk may "
            "record an event a moment after it happened, and a run that had already passed "
            "that second would never see it. 0 reads up to the current second."
        ),
    ),
    th.Property(
        "open_room_recheck_days",
        th.IntegerType(minimum=0, maximum=MAX_RECHECK_DAYS),
        default=7,
        title="Open rooms: recheck for (days)",
        description=(
            "A consultation room still open when a run reads it (waiting, with the chatbot, or "
            "in progress) is kept in the state as a room to ask again (open), and every later "
            "run reads it again by id, sending its new status, rating and messages, until it "
            "closes; for at most this many days after it was opened, after which it is given "
            "up with a warning. 0 never reads a room again."
        ),
    ),
    th.Property(
        "set_aside_days",
        th.IntegerType(minimum=1, maximum=MAX_RECHECK_DAYS),
        default=7,
        title="Failing units: ask again for (days)",
        description=(
            "A unit that still fails after a run's retries (a room, a day's room list, a "
            "service-history window answering 5xx or an undocumented shape) is set aside: the "
            "run goes on with every other unit and exits with code 3, and every later run asks "
            "it again, sending it whole once it answers; for at most this many days after it "
            "first failed, after which it is given up with a warning."
        ),
    ),
    th.Property(
        "closed_room_grace_minutes",
        th.IntegerType(minimum=0, maximum=MAX_GRACE_MINUTES),
        default=60,
        title="Closed rooms: wait for a rating (minutes)",
        description=(
            "A consultation room read when closed but not yet rated stays a room to ask again "
            "(open) and is read once more when this many minutes have passed since it closed, "
            "for a rating the customer gives after closing. Costs one more request per such "
            "room; 0 takes a closed room as final when first read."
        ),
    ),
    th.Property(
        "window_size_hours",
        th.IntegerType(minimum=1, maximum=24),
        default=24,
        title="Window size (hours)",
        description=(
            "Size of one request's window, 1 to 24 hours. Windows never cross midnight "
            "in `timezone`."
        ),
    ),
    th.Property(
        "max_concurrent_requests",
        th.IntegerType(minimum=1, maximum=MAX_IN_FLIGHT),
        title="Concurrent requests",
        description=(
            f"Most requests in flight at once, 1 to {MAX_IN_FLIGHT}: the ceiling the tap rises "
            "to while HappyTalk answers fast and error-free, or, with adaptive_concurrency "
            "false, the fixed number. Records are still emitted in order. Default: "
            f"{DEFAULT_CEILING} with adaptive concurrency, {DEFAULT_FIXED_IN_FLIGHT} without."
        ),
    ),
    th.Property(
        "adaptive_concurrency",
        th.BooleanType,
        default=True,
        title="Adaptive concurrency",
        description=(
            "Find how many requests HappyTalk can take: start at 4, rise while answers stay "
            "fast, fall when they slow down or HappyTalk answers 429, 5xx or Retry-After. "
            "false keeps max_concurrent_requests in flight (halved for a while after a 429)."
        ),
    ),
    th.Property(
        "max_requests_per_minute",
        th.IntegerType(minimum=1, maximum=6000),
        title="Requests per minute",
        description=(
            "Cap on requests per minute across all concurrent requests, for HappyTalk plans "
            "that are rate limited. Default: no cap (HappyTalk's 429 answers still slow "
            "the tap down)."
        ),
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0, maximum=10),
        default=5,
        title="Retries",
        description=(
            "Retries of a request after HTTP 429, 5xx, a timeout or a broken connection, "
            "with exponential backoff (honouring Retry-After), before the unit asked for (a "
            "window, a day's room list, a room) is set aside for the next run."
        ),
    ),
    th.Property(
        "request_timeout_seconds",
        th.IntegerType(minimum=1, maximum=600),
        default=60,
        title="Request timeout (seconds)",
        description="Seconds to wait for HappyTalk to connect and to answer one request.",
    ),
).to_dict()
