"""`support_centre_rooms`, the demo's sample: a Korean support centre's month, deterministic."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from local_happytalk.chats import API_FORMAT, expected_times, support_centre_rooms

NEW_YEAR = dt.date(2024, 1, 1)  # a Monday and a Korean public holiday
OPENING, CLOSING = dt.time(9), dt.time(18)


def rooms_of_january() -> list[dict[str, Any]]:
    return support_centre_rooms(NEW_YEAR, 31, 8, closed_days=[NEW_YEAR])


def stamp(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, API_FORMAT)


def works(day: dt.date) -> bool:
    return day.weekday() < 5 and day != NEW_YEAR


def test_the_sample_is_deterministic_and_its_times_are_as_chosen():
    rooms = rooms_of_january()
    assert rooms == rooms_of_january()
    assert len(rooms) == 200  # what tests/test_demo.py counts
    assert {len(room["message"]) for room in rooms} == {8}
    expected_times(rooms)  # the generator checked them; a room without messages would fail


def test_open_days_are_busier_than_weekends_and_the_holiday():
    per_day = Counter(stamp(room["chat"]["reg_date"]).date() for room in rooms_of_january())
    for offset in range(31):
        day = NEW_YEAR + dt.timedelta(days=offset)
        assert (6 <= per_day[day] <= 10) if works(day) else (2 <= per_day[day] <= 4), day


def test_customers_write_mostly_in_office_hours_with_an_evening_tail():
    opened = [stamp(room["chat"]["reg_date"]) for room in rooms_of_january()]
    on_open_days = [moment for moment in opened if works(moment.date())]
    in_hours = [moment for moment in on_open_days if OPENING <= moment.time() < CLOSING]
    evening = [moment for moment in on_open_days if moment.time() >= CLOSING]
    assert len(in_hours) > 0.6 * len(on_open_days)
    assert len(evening) > 0.1 * len(on_open_days)


def test_agents_answer_only_while_the_team_works_so_some_rooms_wait_overnight():
    times = expected_times(rooms_of_january()).values()
    answers = [stamp(t.first_response_at) for t in times if t.first_response_at]
    assert answers
    for answer in answers:
        assert works(answer.date()), answer  # never on a weekend or 1 January
        assert answer.time() >= OPENING, answer
        assert answer.time() < dt.time(18, 45), answer  # a question asked at 17:59 may run over
    overnight = [
        t
        for t in times
        if t.first_response_at
        and stamp(t.first_response_at).date() > stamp(str(t.first_customer_at)).date()
    ]
    assert len(overnight) > 20
