"""Several HappyTalk accounts from several workers, as docs/ACCOUNTS.md lays them out.

Two working copies of the project (two workers) include accounts/accounts.meltano.yml as the
page says and share one Meltano system database in PostgreSQL. Three accounts, each with its
own local HappyTalk (its own token and data), load into PostgreSQL side by side with the
page's command. Needs the test PostgreSQL server (see tests/test_meltano.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml

from local_happytalk.chats import sample_rooms
from local_happytalk.server import Fault, LocalHappyTalk, sample_events

from .conftest import FIRST_DAY, copy_project, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(900)]

DAYS = 4
ACCOUNTS = ("brand-a", "brand-b", "brand-c")
PAGE = Path(__file__).parent.parent / "docs" / "ACCOUNTS.md"
BIN = Path(sys.executable).parent


def page_block(marker: str) -> str:
    """The fenced block right after `<!-- marker -->` in docs/ACCOUNTS.md."""
    after = PAGE.read_text(encoding="utf-8").split(f"<!-- {marker} -->\n", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def state_id(account: str) -> str:
    return f"dev:tap-happytalk--{account}-to-target-postgres"


def schema(account: str) -> str:
    return "happytalk_" + account.replace("-", "_")


def variable(account: str, setting: str) -> str:
    """The environment variable of one account's setting (its extractor's name, upper-cased)."""
    return f"TAP_HAPPYTALK__{account.upper().replace('-', '_')}_{setting.upper()}"


def token_variable(account: str) -> str:
    return f"HAPPYTALK_{account.upper().replace('-', '_')}_TOKEN"


class Accounts:
    """Three accounts, two workers, one PostgreSQL for the warehouse and Meltano's state."""

    def __init__(self, root: Path, warehouse: str) -> None:
        self.warehouse = warehouse
        self.system = f"meltano_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(warehouse, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {self.system}")
        parts = urlsplit(warehouse)
        self.system_url = parts._replace(path=f"/{self.system}").geturl()
        self.servers: dict[str, LocalHappyTalk] = {}
        self.workers = [self._worker(root / f"worker-{n}") for n in (1, 2)]

    def _worker(self, root: Path) -> Path:
        """A working copy of the project including the accounts, as the page says, installed."""
        copy_project(root)
        meltano_yml = root / "meltano.yml"
        text = meltano_yml.read_text(encoding="utf-8")
        first_line = "project_id: tap-happytalk\n"
        assert first_line in text
        meltano_yml.write_text(
            text.replace(first_line, first_line + page_block("accounts-include"), 1),
            encoding="utf-8",
        )
        self.meltano(root, "install")
        return root

    def env(self, **extra: str) -> dict[str, str]:
        """What every worker's environment has: Meltano's database, the warehouse, tokens."""
        parts = urlsplit(self.warehouse)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TAP_", "TARGET_", "PG", "HAPPYTALK_", "MELTANO_"))
        }
        env |= {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            # psycopg 3, the driver the tests have (the page's URL form).
            "MELTANO_DATABASE_URI": self.system_url.replace(
                "postgresql://", "postgresql+psycopg://"
            ),
            "TARGET_POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "TARGET_POSTGRES_PORT": str(parts.port or 5432),
            "TARGET_POSTGRES_USER": parts.username or "postgres",
            "TARGET_POSTGRES_PASSWORD": parts.password or "",
            "TARGET_POSTGRES_DATABASE": parts.path.lstrip("/"),
        }
        for account, server in self.servers.items():
            env[token_variable(account)] = server.token
            env[variable(account, "api_url")] = server.url
            env[variable(account, "start_date")] = FIRST_DAY.isoformat()
            env[variable(account, "end_date")] = (FIRST_DAY + dt.timedelta(days=DAYS)).isoformat()
            env[variable(account, "max_retries")] = "1"
        return env | extra

    def meltano(
        self, root: Path, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self._run(root, [str(BIN / "meltano"), *args], env)

    def run_all(
        self, root: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The page's one command for every account, in `root`."""
        return self._run(root, ["bash", "-c", page_block("accounts-run-all")], env)

    def _run(
        self, root: Path, command: list[str], env: dict[str, str] | None
    ) -> subprocess.CompletedProcess[str]:
        """`command` in the worker at `root`, with every worker's environment unless `env`."""
        return subprocess.run(
            command,
            cwd=root,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def state(self, account: str) -> dict[str, Any] | None:
        done = self.meltano(self.workers[1], "state", "get", state_id(account))
        if done.returncode != 0:
            return None
        printed = done.stdout.strip()
        return json.loads(printed) if printed else None

    def query(self, database: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(database, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def loaded(self, account: str, table: str, key: str = "id") -> list[str]:
        """Every key loaded into `account`'s schema's `table` (repeats included)."""
        rows = self.query(self.warehouse, f"SELECT {key}::text FROM {schema(account)}.{table}")
        return sorted(row[0] for row in rows)

    def runs(self, account: str) -> list[tuple[str, dict[str, Any]]]:
        """Meltano's record of the account's runs, oldest first: (state, payload)."""
        return [
            (state, json.loads(payload) if isinstance(payload, str) else payload)
            for state, payload in self.query(
                self.system_url,
                "SELECT state, payload FROM runs WHERE job_name = %s ORDER BY started_at",
                state_id(account),
            )
        ]


def account_data(n: int) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Service history and rooms of account `n`: ids no other account has."""
    events = sample_events(FIRST_DAY, DAYS, 6, first_id=100_000 * (n + 1))
    rooms = sample_rooms(FIRST_DAY, DAYS, 2, 3, seed=11 + n, first_message_id=10_000 * (n + 1))
    return events, rooms


@pytest.fixture(scope="module")
def accounts(tmp_path_factory, postgres) -> Iterator[Accounts]:
    accounts = Accounts(tmp_path_factory.mktemp("accounts"), postgres)
    try:
        yield accounts
    finally:
        for server in accounts.servers.values():
            server.stop()


@pytest.fixture
def servers(accounts: Accounts) -> Iterator[dict[str, LocalHappyTalk]]:
    """A fresh HappyTalk per account, and fresh schemas and state for the test."""
    for account in ACCOUNTS:
        accounts.query(accounts.warehouse, f"DROP SCHEMA IF EXISTS {schema(account)} CASCADE")
        accounts.meltano(accounts.workers[0], "state", "clear", "--force", state_id(account))
        accounts.query(
            accounts.system_url, "DELETE FROM runs WHERE job_name = %s", state_id(account)
        )
    started = {}
    for n, account in enumerate(ACCOUNTS):
        events, rooms = account_data(n)
        started[account] = LocalHappyTalk(events, rooms=rooms, token=f"token-of-{account}-{n}")
        started[account].start()
    accounts.servers = started
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()
        accounts.servers = {}


def assert_loaded_alone(accounts: Accounts, account: str) -> None:
    """`account`'s schema holds exactly its own HappyTalk's records, each once."""
    events, rooms = account_data(ACCOUNTS.index(account))
    assert accounts.loaded(account, "service_history") == sorted(str(e["id"]) for e in events)
    assert accounts.loaded(account, "chat_rooms") == sorted(room["chat"]["id"] for room in rooms)


def test_three_accounts_load_side_by_side_and_any_worker_resumes_any_account(accounts, servers):
    """The page's command loads each account into its own schema under its own state id;
    the other worker's next run reads that state from PostgreSQL and asks only what is new."""
    first = accounts.run_all(accounts.workers[0])
    assert first.returncode == 0, first.stderr[-3000:]

    for account in ACCOUNTS:
        assert_loaded_alone(accounts, account)
        bookmarks = accounts.state(account)["singer_state"]["bookmarks"]
        assert bookmarks["service_history"]["replication_key_value"].startswith("2024-03-05T00:00")
    assert {state for state, _ in accounts.runs("brand-a")} == {"SUCCESS"}

    # Another worker, an hour later: one more day on brand-b's HappyTalk.
    asked = {account: len(server.requests) for account, server in servers.items()}
    new_day = FIRST_DAY + dt.timedelta(days=DAYS)
    servers["brand-b"].add_events(sample_events(new_day, 1, 6, first_id=900_000))
    later = accounts.env(
        **{variable("brand-b", "end_date"): (new_day + dt.timedelta(days=1)).isoformat()}
    )
    second = accounts.run_all(accounts.workers[1], later)
    assert second.returncode == 0, second.stderr[-3000:]

    for account, server in servers.items():
        windows = [r for r in server.requests[asked[account] :] if r.start_date]
        # From the state the first worker left: nothing from the start again.
        assert all(r.start_date >= "2024-03-05" for r in windows), windows
    assert len(accounts.loaded("brand-b", "service_history")) == DAYS * 6 + 6
    assert_loaded_alone(accounts, "brand-a")
    assert_loaded_alone(accounts, "brand-c")


def test_the_models_union_every_account(accounts, servers):
    """The layout's models job builds the dbt package over the three schemas."""
    loaded = accounts.run_all(accounts.workers[0])
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    env = accounts.env(HAPPYTALK_DBT_SCHEMA=f"analytics_{accounts.system}")
    built = accounts.meltano(accounts.workers[1], "run", "happytalk-models", env=env)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    rows = accounts.query(
        accounts.warehouse,
        "SELECT source_relation, count(*)"
        f" FROM analytics_{accounts.system}.stg_happytalk__chat_rooms"
        " GROUP BY source_relation ORDER BY 1",
    )
    assert rows == [(schema(account), DAYS * 2) for account in ACCOUNTS]


def started_run(
    accounts: Accounts, root: Path, job: str, env: dict[str, str]
) -> subprocess.Popen[str]:
    """`meltano run JOB` in the background, in a process group of its own (to kill it whole)."""
    return subprocess.Popen(
        [str(BIN / "meltano"), "run", job],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def running(accounts: Accounts, account: str) -> bool:
    return "RUNNING" in {state for state, _ in accounts.runs(account)}


def test_a_second_run_of_an_account_while_one_runs_is_refused(accounts, servers):
    """An hourly run that overruns: the next one, from the other worker, is refused by
    Meltano and changes nothing; the first finishes and loads every record once."""
    servers["brand-a"].latency_seconds = 2.0  # a slow HappyTalk keeps the first run going
    env = accounts.env()
    with started_run(accounts, accounts.workers[0], "happytalk-brand-a", env) as first:
        wait_for(lambda: running(accounts, "brand-a"), 120, "brand-a's run to be recorded")
        second = accounts.meltano(accounts.workers[1], "run", "happytalk-brand-a", env=env)
        first_stderr = first.communicate(timeout=300)[1]
    assert second.returncode == 1
    refusal = [line for line in second.stderr.splitlines() if "already running" in line]
    assert refusal, second.stderr[-3000:]
    assert f"Another '{state_id('brand-a')}' pipeline is already running" in refusal[0]
    assert first.returncode == 0, first_stderr[-3000:]
    # The refused run asked HappyTalk nothing: every window was asked once, by the first.
    windows = [r.start_date for r in servers["brand-a"].requests if r.start_date]
    assert len(windows) == len(set(windows)) == DAYS
    assert_loaded_alone(accounts, "brand-a")
    assert [state for state, _ in accounts.runs("brand-a")] == ["SUCCESS"]


def test_a_killed_run_does_not_block_the_account_for_good(accounts, servers):
    """SIGKILL leaves the run 'running'; the next run is refused until Meltano finds it stale
    (no heartbeat for 5 minutes, moved back here rather than waited for), then proceeds from
    the last state saved, and nothing is lost."""
    halfway = (FIRST_DAY + dt.timedelta(days=2)).isoformat()
    env = accounts.env(**{variable("brand-a", "end_date"): halfway})
    done = accounts.meltano(accounts.workers[0], "run", "happytalk-brand-a", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    servers["brand-a"].latency_seconds = 2.0
    with started_run(accounts, accounts.workers[0], "happytalk-brand-a", accounts.env()) as doomed:
        wait_for(lambda: running(accounts, "brand-a"), 120, "brand-a's second run to start")
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
    servers["brand-a"].latency_seconds = 0.0

    refused = accounts.meltano(accounts.workers[1], "run", "happytalk-brand-a")
    assert refused.returncode == 1
    assert "already running" in refused.stderr
    assert re.search(
        r"Wait until \S+ \S+ when the job will be automatically cancelled", refused.stderr
    )

    accounts.query(
        accounts.system_url,
        "UPDATE runs SET last_heartbeat_at = last_heartbeat_at - interval '6 minutes'"
        " WHERE job_name = %s AND state = 'RUNNING'",
        state_id("brand-a"),
    )
    asked = len(servers["brand-a"].requests)
    resumed = accounts.meltano(accounts.workers[1], "run", "happytalk-brand-a")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    states = accounts.runs("brand-a")
    assert [state for state, _ in states] == ["SUCCESS", "FAIL", "SUCCESS"]
    assert "No heartbeat recorded for 5 minutes" in states[1][1]["error"]
    windows = [r.start_date for r in servers["brand-a"].requests[asked:] if r.start_date]
    assert windows, "the resumed run asked for no service history"
    assert min(windows) >= halfway  # from the last state saved, not from the start
    assert_loaded_alone(accounts, "brand-a")


def test_one_accounts_trouble_stays_its_own(accounts, servers):
    """A bad token on brand-b and an outage at brand-c's HappyTalk fail those two accounts'
    runs alone: brand-a loads its new day and moves its state on; brand-b's state is as it
    was; once both are fixed, the next run brings every missing record, and no token is ever
    printed."""
    assert accounts.run_all(accounts.workers[0]).returncode == 0
    before = {account: accounts.state(account) for account in ACCOUNTS}
    new_day = FIRST_DAY + dt.timedelta(days=DAYS)
    for n, server in enumerate(servers.values()):
        server.add_events(sample_events(new_day, 1, 6, first_id=900_000 + 1_000 * n))
    end = (new_day + dt.timedelta(days=1)).isoformat()
    ends = {variable(account, "end_date"): end for account in ACCOUNTS}
    servers["brand-c"].inject(Fault("status", status=503), times=100_000)

    troubled = accounts.run_all(
        accounts.workers[1],
        accounts.env(**ends, **{token_variable("brand-b"): "not-brand-b-token"}),
    )
    assert troubled.returncode == 123  # xargs: an account failed
    printed = troubled.stdout + troubled.stderr
    assert not any(server.token in printed for server in servers.values())
    assert "not-brand-b-token" not in printed
    said = [line for line in printed.splitlines() if "[error" in line]
    assert any("tap-happytalk--brand-b" in line and "token" in line for line in said), said
    brand_c = [line for line in printed.splitlines() if "tap-happytalk--brand-c" in line]
    assert any("the data is incomplete" in line for line in brand_c), brand_c[-5:]
    assert not any("tap-happytalk--brand-a" in line for line in said), said

    assert len(accounts.loaded("brand-a", "service_history")) == DAYS * 6 + 6
    assert accounts.state("brand-a") != before["brand-a"]
    assert accounts.state("brand-b") == before["brand-b"]
    assert len(accounts.loaded("brand-b", "service_history")) == DAYS * 6
    assert len(accounts.loaded("brand-c", "service_history")) == DAYS * 6
    assert [s for s, _ in accounts.runs("brand-a")] == ["SUCCESS", "SUCCESS"]
    assert [s for s, _ in accounts.runs("brand-b")] == ["SUCCESS", "FAIL"]
    assert [s for s, _ in accounts.runs("brand-c")] == ["SUCCESS", "FAIL"]

    servers["brand-c"].clear_faults()
    healed = accounts.run_all(accounts.workers[0], accounts.env(**ends))
    assert healed.returncode == 0, healed.stderr[-3000:]
    for account in ACCOUNTS:
        assert len(set(accounts.loaded(account, "service_history"))) == DAYS * 6 + 6
        assert len(accounts.loaded(account, "service_history")) == DAYS * 6 + 6


def test_a_room_that_keeps_failing_holds_back_its_account_alone(accounts, servers):
    """One of brand-c's rooms answers 500 on every attempt: brand-c's run loads everything
    else, keeps the room to ask again and exits incomplete; brand-a and brand-b succeed."""
    _, rooms = account_data(ACCOUNTS.index("brand-c"))
    failing = rooms[1]["chat"]["id"]
    servers["brand-c"].inject(Fault("status", status=500), room_id=failing, times=100_000)
    done = accounts.run_all(accounts.workers[1])

    assert done.returncode == 123
    assert [s for s, _ in accounts.runs("brand-a")] == ["SUCCESS"]
    assert [s for s, _ in accounts.runs("brand-b")] == ["SUCCESS"]
    assert [s for s, _ in accounts.runs("brand-c")] == ["FAIL"]
    assert_loaded_alone(accounts, "brand-a")
    assert_loaded_alone(accounts, "brand-b")
    assert sorted(accounts.loaded("brand-c", "chat_rooms")) == sorted(
        room["chat"]["id"] for room in rooms if room["chat"]["id"] != failing
    )
    held = accounts.state("brand-c")["singer_state"]["bookmarks"]["chat_rooms"]
    assert [entry["id"] for entry in held["ask_again"]] == [failing]


def test_an_account_without_its_token_never_borrows_another(accounts, servers):
    """brand-b's token variable unset while TAP_HAPPYTALK_TOKEN holds brand-a's, and brand-b
    pointed at brand-a's HappyTalk: brand-b's run stops, and brand-a's HappyTalk is never asked."""
    env = accounts.env(
        TAP_HAPPYTALK_TOKEN=servers["brand-a"].token,
        **{variable("brand-b", "api_url"): servers["brand-a"].url},
    )
    del env[token_variable("brand-b")]
    done = accounts.meltano(accounts.workers[0], "run", "happytalk-brand-b", env=env)
    assert done.returncode != 0
    assert "tap-happytalk--brand-b invalid setting 'token': is required" in done.stderr
    assert servers["brand-a"].requests == []
    assert servers["brand-a"].token not in done.stdout + done.stderr


def test_each_account_of_the_layout_is_its_own_in_every_place():
    """accounts.meltano.yml: each account its own token variable and schema (one missing would
    fall back to tap-happytalk's), its job and schedule, its schema in the models' union, and
    its name in the page's command that runs them all."""
    layout = yaml.safe_load(
        (PAGE.parent.parent / "accounts" / "accounts.meltano.yml").read_text(encoding="utf-8")
    )
    extractors = layout["plugins"]["extractors"]
    names = [e["name"].removeprefix("tap-happytalk--") for e in extractors]
    assert names == list(ACCOUNTS)
    for extractor, account in zip(extractors, names, strict=True):
        assert extractor["inherit_from"] == "tap-happytalk"
        assert extractor["config"]["token"] == f"${token_variable(account)}"
        assert extractor["load_schema"] == schema(account)
    jobs = {job["name"]: job["tasks"] for job in layout["jobs"]}
    for account in names:
        assert jobs[f"happytalk-{account}"] == [f"tap-happytalk--{account} target-postgres"]
    scheduled = {s["job"]: s["interval"] for s in layout["schedules"]}
    assert all(scheduled[f"happytalk-{account}"] == "@hourly" for account in names)
    (dbt,) = layout["plugins"]["utilities"]
    union = re.search(r"happytalk_union_schemas: \[([^\]]*)\]", dbt["commands"]["build"]["args"])
    assert union is not None
    assert union.group(1).split(", ") == [schema(account) for account in names]
    assert page_block("accounts-run-all").startswith(f"printf '%s\\n' {' '.join(names)} |")
