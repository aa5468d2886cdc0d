"""The dbt project's definitions, proven on a hand-made fixture whose answers are worked out here.

Twelve rooms in September 2024 (Korea time), each there for one definition: a night, a weekend,
Chuseok (Mon 16 to Wed 18 September 2024, public holidays) and a room spanning a week, a missed
chat, a deleted room, a chatbot-only room, a room closed before its first answer, ratings in and
out of scale. Every expected number below is worked out in the comment beside it, by hand,
from the default schedule (Monday to Friday, 09:00 to 18:00 Korea time); nothing here
re-implements the SQL. The fixture is written as target-jsonl writes the tap's records (DuckDB)
and loaded as target-postgres loads them (PostgreSQL), then built with dbt in three scenarios:
the defaults; public holidays worked and a company day off; a reporting time zone in California.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from .conftest import PROJECT, load_script, target_postgres_env

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

TRANSFORM = PROJECT / "transform"
KOREA = dt.timezone(dt.timedelta(hours=9))
AGENT_KIM, AGENT_LEE = ("lc-kim", "김하늘"), ("lc-lee", "이바다")

# --- the fixture -----------------------------------------------------------------------------
# A message: (Korea time, who, text); who is C customer, H agent, B bot, M an agent's memo.


@dataclass
class Room:
    name: str
    status: str
    out_api: str  # 0 HappyTalk, 1 Naver TalkTalk, 2 KakaoTalk
    opened: str  # reg_date, Korea time
    closed: str | None  # complate_date, Korea time; None while open
    messages: list[tuple[str, str, str]]
    agent: tuple[str, str] | None = AGENT_KIM
    vote: str | None = None  # vote_score as HappyTalk sends it (text)


ROOMS = [
    # Week of Monday 2 September.
    Room(
        "weekend",
        "2",
        "1",
        "2024-09-07 11:00:00",
        "2024-09-09 09:45:00",  # Sat -> Mon
        [
            ("2024-09-07 11:00:00", "C", "주말에도 답변되나요?"),
            ("2024-09-09 09:30:00", "H", "월요일 아침에 답변드립니다."),
        ],
        agent=AGENT_LEE,
    ),
    # Week of Monday 9 September.
    Room(
        "night",
        "2",
        "2",
        "2024-09-10 23:50:00",
        "2024-09-11 09:20:00",  # Tue night -> Wed
        [
            ("2024-09-10 23:50:00", "B", "안녕하세요, 해피톡입니다."),
            ("2024-09-10 23:55:00", "C", "밤늦게 죄송합니다"),
            ("2024-09-11 09:05:00", "H", "안녕하세요 고객님"),
        ],
        vote="4",
    ),
    Room(
        "morning-a",
        "2",
        "0",
        "2024-09-11 10:00:00",
        "2024-09-11 10:11:30",
        [
            ("2024-09-11 10:00:30", "C", "배송 문의요"),
            ("2024-09-11 10:00:31", "B", "주문번호를 입력해 주세요."),  # a bot: no answer
            ("2024-09-11 10:01:00", "M", "VIP 고객"),  # a memo: no answer either
            ("2024-09-11 10:01:30", "H", "확인해 드리겠습니다."),
            ("2024-09-11 10:05:00", "C", "감사합니다"),
        ],
        vote="5",
    ),
    Room(
        "morning-b",
        "2",
        "1",
        "2024-09-11 11:00:00",
        "2024-09-11 11:12:00",
        [("2024-09-11 11:00:00", "C", "환불 요청"), ("2024-09-11 11:02:00", "H", "네")],
        agent=AGENT_LEE,
        vote="1",
    ),
    Room(
        "afternoon",
        "2",
        "0",
        "2024-09-11 15:00:00",
        "2024-09-11 15:33:00",
        [("2024-09-11 15:00:00", "C", "교환 문의"), ("2024-09-11 15:03:00", "H", "네 고객님")],
        vote="4.5",  # not a whole number: out of scale
    ),
    Room(
        "missed",
        "2",
        "0",
        "2024-09-11 12:00:00",
        "2024-09-11 12:30:00",
        [("2024-09-11 12:01:00", "C", "계세요?")],  # closed without an agent's answer
        agent=AGENT_LEE,
    ),
    Room(
        "deleted",
        "3",
        "1",
        "2024-09-11 14:00:00",
        "2024-09-11 14:05:00",
        [("2024-09-11 14:00:05", "C", "광고입니다"), ("2024-09-11 14:00:35", "H", "삭제합니다")],
    ),
    Room(
        "chatbot",
        "4",
        "2",
        "2024-09-12 20:00:00",
        "2024-09-12 20:01:00",
        [
            ("2024-09-12 20:00:00", "B", "무엇을 도와드릴까요?"),
            ("2024-09-12 20:00:10", "C", "영업시간 알려주세요"),
            ("2024-09-12 20:00:11", "B", "평일 9시부터 6시까지입니다."),
        ],
        agent=None,
        vote="5",  # the bot's rating: no consultation, not averaged
    ),
    Room(
        "closed-early",
        "2",
        "0",
        "2024-09-12 11:00:00",
        "2024-09-12 11:04:00",
        [("2024-09-12 11:00:00", "C", "문의"), ("2024-09-12 11:05:00", "H", "늦었습니다")],
        vote="7",  # outside 1 to 5
    ),
    Room(
        "chuseok",
        "2",
        "2",
        "2024-09-13 17:40:00",
        "2024-09-20 10:00:00",  # Fri -> next Fri
        [
            ("2024-09-13 17:50:00", "C", "추석 전에 받을 수 있나요?"),
            ("2024-09-19 09:10:00", "H", "연휴 끝나고 답변드립니다."),
        ],
        agent=AGENT_LEE,
        vote="2",
    ),
    # Week of Monday 16 September (Chuseok Mon to Wed).
    Room(
        "waiting",
        "0",
        "0",
        "2024-09-19 16:00:00",
        None,
        [("2024-09-19 16:00:10", "C", "상담원 연결해 주세요")],
        agent=None,
    ),
    Room(
        "open-answered",
        "1",
        "2",
        "2024-09-19 17:00:00",
        None,
        [("2024-09-19 17:00:00", "C", "문의"), ("2024-09-19 17:30:00", "H", "확인 중입니다")],
        agent=AGENT_LEE,
    ),
]


@dataclass(frozen=True)
class Expected:
    outcome: str
    first_response: int | None  # clock seconds
    first_response_business: int | None
    handling: int | None
    handling_business: int | None
    duration: int | None
    opened_date: str
    opened_week: str


# Default schedule: Mon-Fri 09:00-18:00 Korea time, public holidays closed.
EXPECTED = {
    # Sat 11:00 -> Mon 09:30 is 46 h 30 m = 167,400 s; in business hours only Mon 09:00-09:30
    # = 1,800. Handling Mon 09:30 -> 09:45 = 900 (all in hours). Duration Sat 11:00 -> Mon
    # 09:45 = 46 h 45 m = 168,300.
    "weekend": Expected("answered", 167_400, 1_800, 900, 900, 168_300, "2024-09-07", "2024-09-02"),
    # Tue 23:55 -> Wed 09:05 = 9 h 10 m = 33,000; business: Wed 09:00-09:05 = 300. Handling
    # 09:05 -> 09:20 = 900. Duration Tue 23:50 -> Wed 09:20 = 9 h 30 m = 34,200.
    "night": Expected("answered", 33_000, 300, 900, 900, 34_200, "2024-09-10", "2024-09-09"),
    # The bot at 10:00:31 and the memo at 10:01:00 are no answer: 10:00:30 -> 10:01:30 = 60.
    # Handling 10:01:30 -> 10:11:30 = 600. Duration 10:00:00 -> 10:11:30 = 690.
    "morning-a": Expected("answered", 60, 60, 600, 600, 690, "2024-09-11", "2024-09-09"),
    # 11:00 -> 11:02 = 120; handling 11:02 -> 11:12 = 600; duration 720.
    "morning-b": Expected("answered", 120, 120, 600, 600, 720, "2024-09-11", "2024-09-09"),
    # 15:00 -> 15:03 = 180; handling 15:03 -> 15:33 = 1,800; duration 1,980.
    "afternoon": Expected("answered", 180, 180, 1_800, 1_800, 1_980, "2024-09-11", "2024-09-09"),
    # No agent message: no first response, no handling; duration 12:00 -> 12:30 = 1,800.
    "missed": Expected(
        "closed unanswered", None, None, None, None, 1_800, "2024-09-11", "2024-09-09"
    ),
    # Status 3 wins over its answer; its times are still the room's (30 s, 265 s, 300 s).
    "deleted": Expected("deleted", 30, 30, 265, 265, 300, "2024-09-11", "2024-09-09"),
    # Status 4; the customer only talked to the bot. Duration 60.
    "chatbot": Expected("chatbot only", None, None, None, None, 60, "2024-09-12", "2024-09-09"),
    # Answered 11:05, closed 11:04: first response 300, handling unknown (null), duration 240.
    "closed-early": Expected("answered", 300, 300, None, None, 240, "2024-09-12", "2024-09-09"),
    # Fri 13 17:50 -> Thu 19 09:10 = 5 days 15 h 20 m = 432,000 + 55,200 = 487,200. Business:
    # Fri 17:50-18:00 = 600; Sat, Sun closed; Mon-Wed Chuseok closed; Thu 09:00-09:10 = 600;
    # 1,200. Handling Thu 09:10 -> Fri 10:00 = 24 h 50 m = 89,400; business Thu 09:10-18:00 =
    # 31,800 + Fri 09:00-10:00 = 3,600: 35,400. Duration Fri 13 17:40 -> Fri 20 10:00 = 7 days
    # minus 7 h 40 m = 604,800 - 27,600 = 577,200.
    "chuseok": Expected(
        "answered", 487_200, 1_200, 89_400, 35_400, 577_200, "2024-09-13", "2024-09-09"
    ),
    # Status 0, never answered, open: nothing measured yet.
    "waiting": Expected(
        "open unanswered", None, None, None, None, None, "2024-09-19", "2024-09-16"
    ),
    # 17:00 -> 17:30 = 1,800, all in hours; open: no handling, no duration.
    "open-answered": Expected(
        "answered", 1_800, 1_800, None, None, None, "2024-09-19", "2024-09-16"
    ),
}

# Scenario "worked": public holidays are working days, and Thursday 19 September is the
# company's day off. Only business seconds that touch Chuseok or the 19th change:
WORKED_VARS = {
    "happytalk_public_holidays_closed": False,
    "happytalk_company_days_off": {"2024-09-19": "창립기념일"},
}
WORKED_BUSINESS = {
    # First response: Fri 17:50-18:00 = 600, Mon-Wed 9 h each = 3 x 32,400 = 97,200, Thu off
    # = 0: 97,800. Handling Thu 09:10 -> Fri 10:00: Thu off, Fri 09:00-10:00 = 3,600.
    "chuseok": (97_800, 3_600),
    # Asked and answered on the day off: 0 business seconds; still open: no handling.
    "open-answered": (0, None),
}

# Scenario "california": days in America/Los_Angeles (PDT, UTC-7, so Korea time minus 16 h).
# Business hours stay Korea's, so no duration changes; rooms move to other days:
CALIFORNIA_VARS = {"happytalk_reporting_timezone": "America/Los_Angeles"}
CALIFORNIA_DATES = {
    "weekend": "2024-09-06",  # Sat 11:00 KST = Fri 19:00 PDT
    "night": "2024-09-10",  # Tue 23:50 KST = Tue 07:50 PDT
    "morning-a": "2024-09-10",  # Wed 10:00 KST = Tue 18:00 PDT
    "morning-b": "2024-09-10",
    "afternoon": "2024-09-10",  # Wed 15:00 KST = Tue 23:00 PDT
    "missed": "2024-09-10",
    "deleted": "2024-09-10",
    "chatbot": "2024-09-12",  # Thu 20:00 KST = Thu 04:00 PDT
    "closed-early": "2024-09-11",  # Thu 11:00 KST = Wed 19:00 PDT
    "chuseok": "2024-09-13",  # Fri 17:40 KST = Fri 01:40 PDT
    "waiting": "2024-09-19",  # Thu 16:00 KST = Thu 00:00 PDT, midnight exactly
    "open-answered": "2024-09-19",
}

# The week of 9 September over every channel, from its 9 rooms (weekend's week and the
# week of the 16th hold 1 and 2):
WEEK_OF_9_SEPTEMBER = {
    # Outcomes: answered night, morning-a, morning-b, afternoon, closed-early, chuseok = 6;
    # closed unanswered missed = 1; open unanswered 0; chatbot only 1; deleted 1. 6+1+0+1+1 = 9.
    "rooms": 9,
    "consultations": 7,
    "answered_consultations": 6,
    "closed_unanswered_consultations": 1,
    "open_unanswered_consultations": 0,
    "chatbot_only_rooms": 1,
    "deleted_rooms": 1,
    "open_consultations": 0,
    "answer_rate": 0.8571,  # 6 / 7
    # Business first responses, sorted: 60, 120, 180, 300, 300, 1,200. Median: (180 + 300) / 2
    # = 240. p90: position 0.9 x 5 = 4.5, between 300 and 1,200: 300 + 0.5 x 900 = 750. (The
    # days' medians are Tue 300, Wed 120, Thu 300, Fri 1,200, whose median, 300, is wrong.)
    "median_first_response_business_seconds": 240.0,
    "p90_first_response_business_seconds": 750.0,
    # Clock: 60, 120, 180, 300, 33,000, 487,200: median 240; p90 33,000 + 0.5 x 454,200 =
    # 260,100.
    "median_first_response_seconds": 240.0,
    "p90_first_response_seconds": 260_100.0,
    # Handling known for 5 (closed-early's is not): 600, 600, 900, 1,800, 89,400. Median 900;
    # p90: position 0.9 x 4 = 3.6: 1,800 + 0.6 x 87,600 = 54,360.
    "median_handling_seconds": 900.0,
    "p90_handling_seconds": 54_360.0,
    # Business: 600, 600, 900, 1,800, 35,400: median 900; p90 1,800 + 0.6 x 33,600 = 21,960.
    "median_handling_business_seconds": 900.0,
    "p90_handling_business_seconds": 21_960.0,
    "answered_with_interval_problem": 1,  # closed-early
    # Ratings of consultations within 1-5: night 4, morning-a 5, morning-b 1, chuseok 2 = 4,
    # average 12 / 4 = 3.00; low (2 or less): morning-b, chuseok = 2; out of scale: afternoon
    # "4.5", closed-early "7" = 2. The chatbot room's 5 is no consultation's.
    "rated_consultations": 4,
    "avg_rating": 3.0,
    "low_rated_consultations": 2,
    "out_of_scale_ratings": 2,
}

# Wednesday 11 September on HappyTalk (channel 0): morning-a (60), afternoon (180), missed.
# Median business first response (60 + 180) / 2 = 120; p90 60 + 0.9 x 120 = 168.
WEDNESDAY_HAPPYTALK = {
    "rooms": 3,
    "consultations": 3,
    "answered_consultations": 2,
    "closed_unanswered_consultations": 1,
    "median_first_response_business_seconds": 120.0,
    "p90_first_response_business_seconds": 168.0,
}
# The same Wednesday over every channel: also morning-b (120) and deleted. Business first
# responses 60, 120, 180: median 120, p90 120 + 0.8 x 60 = 168.
WEDNESDAY_ALL = {"rooms": 5, "consultations": 4, "answered_consultations": 3}

# Customer messages (type C, user_type C) by Korea day and hour: morning-a's two in the 10
# o'clock hour, every other room's one.
CUSTOMER_MESSAGES = {
    ("2024-09-07", 11): 1,  # weekend
    ("2024-09-10", 23): 1,  # night
    ("2024-09-11", 10): 2,  # morning-a, twice
    ("2024-09-11", 11): 1,  # morning-b
    ("2024-09-11", 12): 1,  # missed
    ("2024-09-11", 14): 1,  # deleted
    ("2024-09-11", 15): 1,  # afternoon
    ("2024-09-12", 11): 1,  # closed-early
    ("2024-09-12", 20): 1,  # chatbot (to the bot: still demand)
    ("2024-09-13", 17): 1,  # chuseok
    ("2024-09-19", 16): 1,  # waiting
    ("2024-09-19", 17): 1,  # open-answered
}

# Per agent (the room's counselor_name), consultations only, one category:
AGENT_RATINGS = {
    # kim: night (4), morning-a (5), afternoon ("4.5"), closed-early ("7"); deleted is no
    # consultation. Rated 2, average 4.5, out of scale 2.
    "lc-kim": (4, 2, 4.5, 0, 2),
    # lee: weekend, morning-b (1), missed, chuseok (2), open-answered. Rated 2, average 1.5,
    # both low.
    "lc-lee": (5, 2, 1.5, 2, 0),
}


# --- writing and loading it ------------------------------------------------------------------


def instant(korea_time: str | None) -> dt.datetime | None:
    if korea_time is None:
        return None
    return dt.datetime.strptime(korea_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=KOREA)


def source_columns() -> dict[str, dict[str, str]]:
    """Each stream's columns and DuckDB types, as sources.yml's JSONL reader declares them."""
    sources = yaml.safe_load((TRANSFORM / "models" / "sources.yml").read_text(encoding="utf-8"))
    return {
        table["name"]: json.loads(table["config"]["meta"]["json_structure"])
        for table in sources["sources"][0]["tables"]
    }


def records() -> dict[str, list[dict[str, Any]]]:
    """The fixture as the tap's records: times as aware datetimes, everything else as text."""
    columns = source_columns()
    rooms, messages = [], []
    number = 1000
    for room in ROOMS:
        room_id = f"oracle-{room.name}"
        agent, nickname = room.agent or ("", "")
        chat: dict[str, Any] = dict.fromkeys(columns["chat_rooms"], "")
        chat.update(
            id=room_id,
            title=room.name,
            counselor_name=agent,
            counselor_nickname=nickname,
            customer_uuid=f"site_{room.name}",
            category_id="101",
            division_id="201",
            cate_name1="배송문의",
            cate_name2="배송지연",
            reg_date=instant(room.opened),
            complate_date=instant(room.closed),
            out_api=room.out_api,
            status=room.status,
            phone_os="W",
            tags=[],
            vote_score=room.vote,
            vote_comment="감사합니다" if room.vote else None,
            last_message=room.messages[-1][2],
        )
        rooms.append(chat)
        for sent, who, text in room.messages:
            number += 1
            messages.append(
                {
                    "id": str(number),
                    "room_id": room_id,
                    "from_id": who,
                    "to_id": "",
                    "type": "M" if who == "M" else "C",
                    "user_type": "H" if who == "M" else who,
                    "contents_type": "text",
                    "contents": text,
                    "send_date": instant(sent),
                    "read_date": instant(sent),
                }
            )
    event = {
        "id": "1",
        "type": "A",
        "kind": "S",
        "request_user": "lc-kim",
        "request_content": "[WEB] lc-kim 상담원 로그인.",
        "request_date": instant("2024-09-11 08:55:00"),
        "apply_id": "1",
        "apply_content": "로그인",
        "apply_date": instant("2024-09-11 08:55:00"),
    }
    return {"service_history": [event], "chat_rooms": rooms, "chat_messages": messages}


def write_jsonl(directory: Path) -> Path:
    """The records as target-jsonl writes the tap's: one JSON object a line, RFC 3339 times."""
    directory.mkdir(parents=True, exist_ok=True)
    for stream, rows in records().items():
        lines = [
            json.dumps(
                {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()},
                ensure_ascii=False,
            )
            for row in rows
        ]
        (directory / f"{stream}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def utc_naive(value: Any) -> Any:
    """An aware datetime as target-postgres stores it (its UTC wall clock); else the value."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def load_postgres(connection: Any, schema: str) -> None:
    """The records as target-postgres loads them: text, `timestamp without time zone` in UTC,
    tags as `text[]`, `id` the primary key."""
    connection.execute(f'create schema "{schema}"')
    for stream, columns in source_columns().items():
        types = {
            "TIMESTAMPTZ": "timestamp without time zone",
            "VARCHAR[]": "text[]",
        }
        definition = ", ".join(
            f'"{name}" {types.get(kind, "text")}{" not null primary key" if name == "id" else ""}'
            for name, kind in columns.items()
        )
        connection.execute(f'create table "{schema}"."{stream}" ({definition})')
        names = list(columns)
        insert = (
            f'insert into "{schema}"."{stream}" ({", ".join(names)}) '
            f"values ({', '.join(['%s'] * len(names))})"
        )
        for row in records()[stream]:
            values = [utc_naive(row.get(name)) for name in names]
            connection.execute(insert, values)
    connection.commit()


# --- building it -----------------------------------------------------------------------------


@dataclass
class Built:
    query: Callable[[str], list[tuple[Any, ...]]]
    schema: str
    statuses: dict[str, str] = field(default_factory=dict)
    database: Path | None = None  # DuckDB's file

    def rows(self, model: str, columns: str, where: str = "") -> list[tuple[Any, ...]]:
        return self.query(f"select {columns} from {self.schema}.{model} {where}")

    def one(self, model: str, columns: list[str], where: str) -> dict[str, Any]:
        (row,) = self.rows(model, ", ".join(columns), where)
        return dict(zip(columns, row, strict=True))


SCENARIOS = {"defaults": {}, "worked": WORKED_VARS, "california": CALIFORNIA_VARS}


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("oracle") / "output")


@pytest.fixture(scope="module")
def duckdb_oracle(request, jsonl: Path, tmp_path_factory) -> Iterator[tuple[str, Built]]:
    """The fixture built on DuckDB with scripts/analytics.py, in the scenario `request.param`."""
    import duckdb  # noqa: PLC0415 - only these tests need it

    scenario = request.param
    database = tmp_path_factory.mktemp(f"oracle-duckdb-{scenario}") / "happytalk.duckdb"
    build = load_script("analytics").build(jsonl, database, SCENARIOS[scenario] or None)
    with duckdb.connect(str(database), read_only=True) as connection:

        def query(sql: str) -> list[tuple[Any, ...]]:
            return connection.execute(sql).fetchall()

        yield scenario, Built(query, "analytics", build.statuses, database)


@pytest.fixture(scope="module")
def postgres_oracle(request, postgres, tmp_path_factory) -> Iterator[tuple[str, Built]]:
    """The fixture loaded as target-postgres would, built with `dbt build --target postgres`
    in the scenario `request.param`."""
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests need it

    scenario = request.param
    schema = f"oracle_{uuid.uuid4().hex[:8]}"
    analytics = f"{schema}_analytics"
    work = tmp_path_factory.mktemp(f"oracle-postgres-{scenario}")
    with psycopg.connect(postgres) as connection:
        load_postgres(connection, schema)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HAPPYTALK_", "DBT_"))},
        **target_postgres_env(postgres, schema),
        "HAPPYTALK_SOURCE_SCHEMA": schema,
        "HAPPYTALK_DBT_SCHEMA": analytics,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "PGTZ": "America/New_York",  # neither UTC nor Korea: nothing may lean on it
    }
    command = [
        sys.executable, "-m", "dbt.cli.main", "build",
        "--project-dir", str(TRANSFORM), "--profiles-dir", str(TRANSFORM),
        "--target", "postgres",
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--no-use-colors",
    ]  # fmt: skip
    if SCENARIOS[scenario]:
        command += ["--vars", json.dumps(SCENARIOS[scenario])]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((work / "target" / "run_results.json").read_text(encoding="utf-8"))
    statuses = {str(r["unique_id"]): str(r["status"]) for r in results["results"]}
    with psycopg.connect(postgres) as connection:

        def query(sql: str) -> list[tuple[Any, ...]]:
            return connection.execute(sql).fetchall()

        yield scenario, Built(query, analytics, statuses)
        connection.rollback()
        connection.execute(f'drop schema "{analytics}" cascade')
        connection.execute(f'drop schema "{schema}" cascade')
        connection.commit()


# --- what both warehouses must say -----------------------------------------------------------


def number(value: Any) -> Any:
    """Numbers as floats (DuckDB and PostgreSQL return decimals and ints alike)."""
    return None if value is None else float(value)


def check_rooms(scenario: str, built: Built) -> None:
    """Every room's outcome, waits (clock and business), duration, day and week."""
    rows = built.rows(
        "room_response_times",
        "room_id, outcome, first_response_seconds, first_response_business_seconds, "
        "handling_seconds, handling_business_seconds, duration_seconds, "
        "cast(opened_date as varchar), cast(opened_week as varchar)",
    )
    got = {row[0].removeprefix("oracle-"): row[1:] for row in rows}
    want = {}
    for name, e in EXPECTED.items():
        first_business, handling_business = e.first_response_business, e.handling_business
        if scenario == "worked" and name in WORKED_BUSINESS:
            first_business, handling_business = WORKED_BUSINESS[name]
        opened_date = CALIFORNIA_DATES[name] if scenario == "california" else e.opened_date
        want[name] = (
            e.outcome,
            e.first_response,
            first_business,
            e.handling,
            handling_business,
            e.duration,
            opened_date,
            e.opened_week,
        )
    assert got == want
    problems = dict(built.rows("room_response_times", "room_id, interval_problem"))
    assert {k for k, v in problems.items() if v} == {"oracle-closed-early"}
    assert problems["oracle-closed-early"] == "closed before first response"
    assert set(built.statuses.values()) <= {"success", "pass"}, built.statuses


def check_ratings(scenario: str, built: Built) -> None:
    """In scale, out of scale, per agent; the same whatever the schedule or the zone."""
    rows = built.rows(
        "room_response_times", "room_id, vote_score_text, rating, is_rating_out_of_scale"
    )
    got = {row[0].removeprefix("oracle-"): row[1:] for row in rows}
    assert got["afternoon"] == ("4.5", None, True)
    assert got["closed-early"] == ("7", None, True)
    assert got["night"] == ("4", 4, False)
    assert got["waiting"] == (None, None, False)
    agents = {
        row[0]: (row[1], row[2], number(row[3]), row[4], row[5])
        for row in built.rows(
            "ratings_per_agent_category",
            "agent_name, consultations, rated_consultations, avg_rating, "
            "low_rated_consultations, out_of_scale_ratings",
        )
    }
    assert agents == AGENT_RATINGS, scenario


def check_week_of_9_september(scenario: str, built: Built) -> None:
    """A week's figures from its rooms, not from its days."""
    assert scenario == "defaults"
    week = built.one(
        "consultations_per_week_all_channels",
        list(WEEK_OF_9_SEPTEMBER),
        "where opened_week = cast('2024-09-09' as date)",
    )
    assert {k: number(v) for k, v in week.items()} == {
        k: number(v) for k, v in WEEK_OF_9_SEPTEMBER.items()
    }
    weeks = built.rows(
        "consultations_per_week_all_channels",
        "cast(opened_week as varchar), rooms, answered_consultations, open_consultations",
        "order by 1",
    )
    # 2 Sep: weekend. 16 Sep: waiting and open-answered, both open, one answered.
    assert weeks == [("2024-09-02", 1, 1, 0), ("2024-09-09", 9, 6, 0), ("2024-09-16", 2, 1, 2)]
    # Per channel, the week's rooms add up to the week's.
    per_channel = built.rows(
        "consultations_per_week", "sum(rooms)", "where opened_week = cast('2024-09-09' as date)"
    )
    assert [number(n) for (n,) in per_channel] == [9.0]


def check_wednesday(scenario: str, built: Built) -> None:
    """A day on one channel, and over every channel."""
    assert scenario == "defaults"
    where = "where opened_date = cast('2024-09-11' as date)"
    wednesday = built.one(
        "consultations_per_day", list(WEDNESDAY_HAPPYTALK), f"{where} and out_api = '0'"
    )
    assert {k: number(v) for k, v in wednesday.items()} == {
        k: number(v) for k, v in WEDNESDAY_HAPPYTALK.items()
    }
    overall = built.one("consultations_per_day_all_channels", list(WEDNESDAY_ALL), where)
    assert {k: number(v) for k, v in overall.items()} == {
        k: number(v) for k, v in WEDNESDAY_ALL.items()
    }
    figures = built.one(
        "consultations_per_day_all_channels",
        ["median_first_response_business_seconds", "p90_first_response_business_seconds"],
        where,
    )
    assert {k: number(v) for k, v in figures.items()} == {
        "median_first_response_business_seconds": 120.0,
        "p90_first_response_business_seconds": 168.0,
    }


def check_customer_messages(scenario: str, built: Built) -> None:
    """The heat map's counts, by Korea day and hour."""
    assert scenario == "defaults"
    rows = built.rows(
        "customer_messages_per_hour",
        "cast(sent_date as varchar), sent_hour, sent_iso_weekday, customer_messages",
    )
    assert {(day, hour): count for day, hour, _, count in rows} == CUSTOMER_MESSAGES
    weekdays = {day: weekday for day, _, weekday, _ in rows}
    assert weekdays["2024-09-07"] == 6  # Saturday
    assert weekdays["2024-09-11"] == 3  # Wednesday


def check_california(scenario: str, built: Built) -> None:
    """Weeks and hours in the reporting zone (Korea time minus 16 h)."""
    assert scenario == "california"
    weeks = built.rows(
        "consultations_per_week_all_channels", "cast(opened_week as varchar), rooms", "order by 1"
    )
    # weekend moves to Fri 6 Sep, still the week of 2 Sep; the others keep their weeks.
    assert weeks == [("2024-09-02", 1), ("2024-09-09", 9), ("2024-09-16", 2)]
    days = dict(
        built.rows("consultations_per_day_all_channels", "cast(opened_date as varchar), rooms")
    )
    # Tue 10 Sep PDT: night, morning-a, morning-b, afternoon, missed, deleted.
    assert days == {"2024-09-06": 1, "2024-09-10": 6, "2024-09-11": 1, "2024-09-12": 1,
                    "2024-09-13": 1, "2024-09-19": 2}  # fmt: skip
    hours = {
        (day, hour): count
        for day, hour, count in built.rows(
            "customer_messages_per_hour",
            "cast(sent_date as varchar), sent_hour, customer_messages",
        )
    }
    assert hours[("2024-09-10", 18)] == 2  # morning-a's two, Wed 10:00 KST = Tue 18:00 PDT
    assert hours[("2024-09-19", 0)] == 1  # waiting, Thu 16:00:10 KST = Thu 00:00:10 PDT
    assert sum(hours.values()) == sum(CUSTOMER_MESSAGES.values())


def check_calendar(scenario: str, built: Built) -> None:
    """Business days around Chuseok, and the company's day off when it has one."""
    rows = built.rows(
        "int_happytalk__business_calendar",
        "cast(calendar_date as varchar), is_business_day, is_public_holiday, holiday_name_ko, "
        "is_company_day_off, day_off_reason, opens_at_utc, closes_at_utc",
        "where calendar_date between cast('2024-09-13' as date) and cast('2024-09-19' as date) "
        "order by 1",
    )
    worked = scenario == "worked"
    by_day = {row[0]: row[1:] for row in rows}
    # Friday 13th: open 09:00-18:00 Korea time = 00:00-09:00 UTC.
    assert by_day["2024-09-13"] == (
        True, False, None, False, None, dt.datetime(2024, 9, 13, 0), dt.datetime(2024, 9, 13, 9)
    )  # fmt: skip
    assert by_day["2024-09-14"][:2] == (False, False)  # Saturday
    assert by_day["2024-09-17"][:3] == (worked, True, "추석")
    assert by_day["2024-09-19"][0] is not worked
    assert by_day["2024-09-19"][3:5] == ((True, "창립기념일") if worked else (False, None))


CASES = [
    *(("defaults", check) for check in (check_rooms, check_ratings, check_week_of_9_september,
                                        check_wednesday, check_customer_messages, check_calendar)),
    *(("worked", check) for check in (check_rooms, check_ratings, check_calendar)),
    *(("california", check) for check in (check_rooms, check_ratings, check_california)),
]  # fmt: skip
CASE_IDS = [f"{scenario}-{check.__name__.removeprefix('check_')}" for scenario, check in CASES]


@pytest.mark.parametrize(
    ("duckdb_oracle", "check"), CASES, ids=CASE_IDS, indirect=["duckdb_oracle"]
)
def test_duckdb_answers_the_hand_worked_fixture(duckdb_oracle, check):
    check(*duckdb_oracle)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("postgres_oracle", "check"), CASES, ids=CASE_IDS, indirect=["postgres_oracle"]
)
def test_postgres_answers_the_hand_worked_fixture(postgres_oracle, check):
    check(*postgres_oracle)


@pytest.mark.parametrize("duckdb_oracle", ["defaults"], indirect=True)
def test_duckdb_summary_adds_up_and_says_what_the_fixture_says(duckdb_oracle):
    """The `make demo` summary over the fixture: every room in one column, weeks add up."""
    _, built = duckdb_oracle
    analytics = load_script("analytics")
    text = analytics.report(analytics.Build(built.database, built.statuses))
    table = {
        line.split()[0]: [int(n) for n in line.split()[1:7]]
        for line in text.splitlines()
        if re.match(r"^(20\d\d-\d\d-\d\d|total) ", line)
    }
    # week: rooms, answered, closed unanswered, open unanswered, chatbot only, deleted
    assert table == {
        "2024-09-02": [1, 1, 0, 0, 0, 0],
        "2024-09-09": [9, 6, 1, 0, 1, 1],
        "2024-09-16": [2, 1, 0, 1, 0, 0],
        "total": [12, 8, 1, 1, 1, 1],
    }
    for rooms, *outcomes in table.values():
        assert rooms == sum(outcomes)
    assert "Answered: 8 of 10 consultations (80%)" in text
    # Business first responses of the 8 answered: 60, 120, 180, 300, 300, 1,200, 1,800, 1,800;
    # median (300 + 300) / 2 = 300 = 5m 00s; p90 at position 6.3, between 1,800 and 1,800.
    assert "Median first response: 5m 00s in business hours (p90 30m 00s)" in text
    assert "0 of them asked and answered outside business hours" in text
    assert "Still open when the tap last read them: 1 not answered yet, 1 answered" in text
    # Within 1-5 over consultations: 4, 5, 1, 2 (the bot's 5 is none); "4.5" and "7" outside.
    assert (
        "Ratings: 4 consultations rated 1 to 5, average 3.00; 2 rated 2 or less; 2 outside" in text
    )
    assert "Busiest agent: lc-lee (이바다), 5 consultations" in text  # lc-kim has 4
    assert re.search(r"^Data checks: all \d+ passed$", text, re.MULTILINE), text
    assert "success" not in text


def test_a_misspelt_schedule_stops_the_build(jsonl, tmp_path):
    analytics = load_script("analytics")
    with pytest.raises(analytics.DbtBuildError, match="'funday' is not a weekday"):
        analytics.build(
            jsonl,
            tmp_path / "happytalk.duckdb",
            {"happytalk_business_hours": {"funday": ["09:00", "18:00"]}},
        )
    with pytest.raises(analytics.DbtBuildError, match="closes at 08:00, not after it opens"):
        analytics.build(
            jsonl,
            tmp_path / "happytalk.duckdb",
            {"happytalk_business_hours": {"monday": ["09:00", "08:00"]}},
        )
