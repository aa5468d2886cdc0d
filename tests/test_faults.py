"""Answers that are wrong in their content: each has a decided, documented outcome."""

from __future__ import annotations

import json

import pytest

from local_happytalk.server import Fault, LocalHappyTalk, sample_events

from .conftest import FIRST_DAY, run_tap

SECRET = "fault-suite-token-7d1e"


def one_row(**fields):
    row = {"id": "5", "type": "A", "kind": "S", "request_date": "2024-03-01 10:00:00"}
    return {k: v for k, v in {**row, **fields}.items() if v is not None}


def answer(**body):
    return Fault("body", status=200, text=json.dumps(body, ensure_ascii=False))


@pytest.fixture
def server():
    with LocalHappyTalk(sample_events(FIRST_DAY, 3, 4), token=SECRET) as running:
        yield running


@pytest.fixture
def config(server):
    return {
        "token": SECRET,
        "api_url": server.url,
        "start_date": "2024-03-01",
        "end_date": "2024-03-04",
        "max_concurrent_requests": 1,
    }


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (answer(result="success", data=[one_row(request_date=None)]), "request_date None"),
        (answer(result="success", data=[one_row(request_date="2024/03/01 10:00")]), "not Y-m-d"),
        (answer(result="success", data=[one_row(id=None)]), "without an id"),
        (answer(result="success", data={"rows": []}), "not a list of records"),
        (answer(result="success", data="nothing"), "not a list of records"),
        (answer(result="ok", data=[]), "has result 'ok'"),
        (answer(data=[]), "has result None"),
        (Fault("body", status=200, text='{"result": "success", "data": [{"id"'), "is not JSON"),
        (Fault("body", status=200, text="[]"), "is not a JSON object"),
        (answer(result="fail", code="E9", message="점검 중"), "E9 점검 중"),
        (answer(result="fail"), "no code or message given"),
        (answer(result="fail", error={"why": SECRET}), "********"),
    ],
    ids=[
        "no-request-date",
        "malformed-request-date",
        "no-id",
        "data-not-a-list",
        "data-a-string",
        "unknown-result",
        "no-result",
        "truncated-json",
        "json-not-an-object",
        "fail-with-code",
        "fail-without-code",
        "fail-echoing-the-token",
    ],
)
def test_a_broken_answer_sets_its_window_aside_and_the_next_run_sends_it(
    tmp_path, server, config, fault, message
):
    """TRUST 11 for service history: the other days still come; the window comes later."""
    server.inject(fault, day="2024-03-02")
    run = run_tap(tmp_path, config)
    refused = '"result": "fail"' in fault.text
    if refused:  # HappyTalk's own refusal says nothing about one window: the run stops
        assert run.returncode == 1
        final = [line for line in run.stderr.splitlines() if "| ERROR" in line][-1]
        assert "2024-03-02 00:00:00..23:59:59" in final
        assert message in final
        assert {r["request_date"][:10] for r in run.records} == {"2024-03-01"}
        assert run.bookmark == "2024-03-02T00:00:00+09:00"
        assert SECRET not in run.stdout + run.stderr
        return
    again = run_tap(tmp_path, config, state=run.states[-1])

    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr
    (aside,) = [line for line in run.stderr.splitlines() if "set aside, asked again" in line]
    assert "2024-03-02 00:00:00..23:59:59" in aside
    assert message in aside
    (held,) = [line for line in run.stderr.splitlines() if "set aside (failed)" in line]
    assert "window 2024-03-02 00:00:00..23:59:59" in held
    assert SECRET not in run.stdout + run.stderr
    # Every other window is delivered, and the state holds the failed one to ask again.
    assert {r["request_date"][:10] for r in run.records} == {"2024-03-01", "2024-03-03"}
    state = run.states[-1]["bookmarks"]["service_history"]
    assert state["replication_key_value"] == "2024-03-04T00:00:00+09:00"
    (entry,) = state["ask_again"]
    assert (entry["unit"], entry["why"], entry["start"]) == (
        "window",
        "failed",
        "2024-03-02T00:00:00+09:00",
    )
    assert again.returncode == 0, again.stderr
    assert {r["request_date"][:10] for r in again.records} == {"2024-03-02"}
    assert again.states[-1]["bookmarks"]["service_history"]["ask_again"] == []


@pytest.mark.parametrize(
    "body",
    [{"result": "success"}, {"result": "success", "data": None}, {"result": "success", "data": {}}],
)
def test_an_answer_without_data_is_empty_for_now_and_asked_again(tmp_path, server, config, body):
    """TRUST 5: a success without data may be an honest empty day, or a glitch that heals."""
    server.inject(answer(**body), day="2024-03-02")
    run = run_tap(tmp_path, config)
    again = run_tap(tmp_path, config, state=run.states[-1])

    assert run.returncode == 0, run.stderr
    assert "windows answered without data (unconfirmed)" in run.stderr
    assert {r["request_date"][:10] for r in run.records} == {"2024-03-01", "2024-03-03"}
    (entry,) = run.states[-1]["bookmarks"]["service_history"]["ask_again"]
    assert (entry["why"], entry["start"]) == ("unconfirmed", "2024-03-02T00:00:00+09:00")
    # The glitch healed: the next run asks the day again and sends what it holds.
    assert again.returncode == 0, again.stderr
    assert {r["request_date"][:10] for r in again.records} == {"2024-03-02"}
    assert again.states[-1]["bookmarks"]["service_history"]["ask_again"] == []


def test_unknown_fields_are_kept_in_extra_fields_and_named_once(tmp_path, server, config):
    rows = [
        one_row(id=str(n), request_date="2024-03-02 10:00:00", channel="kakao", score=n)
        for n in range(3)
    ]
    server.inject(answer(result="success", data=rows), day="2024-03-02")
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    kept = {r["id"]: r["extra_fields"] for r in run.records if r["id"] in {"0", "1", "2"}}
    assert kept == {str(n): {"channel": "kakao", "score": n} for n in range(3)}
    warnings = [line for line in run.stderr.splitlines() if "does not describe" in line]
    assert len(warnings) == 1
    assert "kept in extra_fields: channel, score" in warnings[0]


def test_the_same_id_in_two_windows_is_sent_twice_for_the_target_to_merge(tmp_path, server, config):
    repeated = one_row(id="424242", request_content="처음")
    again = one_row(id="424242", request_date="2024-03-03 09:00:00", request_content="다시")
    server.inject(answer(result="success", data=[repeated]), day="2024-03-01")
    server.inject(answer(result="success", data=[again]), day="2024-03-03")
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    sent = [r for r in run.records if r["id"] == "424242"]
    assert [r["request_content"] for r in sent] == ["처음", "다시"]  # the later one wins an upsert
