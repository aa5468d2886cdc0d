"""`make demo`'s picture: output/report.html, opened in headless Chromium at a laptop's width.

The report is built over the hand-worked fixture of `test_analytics_oracle` (so the figures and
the number of marks each chart must draw are known), by `scripts/analytics.py`, in English and
in Korean, with a 5-minute target. Chromium (Debian's package, which `.ci/chromium.sh` installs)
loads a copy of each with a measuring script appended, in a 1280 px wide window, and
`--dump-dom` returns what it measured: whether anything is wider than the window or cut off
inside its box, each chart's size and how many of its data marks have an area, and the headline
cards' text. Without Chromium the tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import load_script
from .test_analytics_oracle import write_jsonl

if TYPE_CHECKING:
    from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WINDOW_WIDTH = 1280
TARGET_MINUTES = 5
# Appended to a copy of the report (the report itself runs no script): the page's width against
# the window's, every element whose content is wider than its box, every chart text outside its
# chart or shortened by Vega ("…"), per figure the chart's size
# as laid out and how many data marks (Vega's `role-mark` groups) have a non-empty box, and the
# headline cards' text.
MEASURE = """
<script>
const measured = {
  window: window.innerWidth,
  page: document.documentElement.scrollWidth,
  cut: [...document.body.querySelectorAll("*")]
    .filter((element) => element instanceof HTMLElement)
    .filter((element) => element.clientWidth > 0 && element.scrollWidth > element.clientWidth + 1)
    .map((element) => `${element.tagName} ${element.id} ${element.className}`),
  clipped: [],
  figures: {},
  cards: {},
};
for (const figure of document.querySelectorAll("figure")) {
  const svg = figure.querySelector("svg");
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0, right: 0};
  const marks = svg ? [...svg.querySelectorAll(".role-mark > *")].filter((mark) => {
    const area = mark.getBBox();
    return area.width > 0 || area.height > 0;
  }).length : 0;
  measured.figures[figure.id] = {width: box.width, height: box.height, right: box.right,
    marks: marks};
  for (const text of svg ? svg.querySelectorAll("text") : []) {
    const area = text.getBoundingClientRect();
    const outside = area.left < box.left - 1 || area.right > box.right + 1;
    if (outside || text.textContent.includes("…")) {
      measured.clipped.push(`${figure.id}: ${text.textContent}`);
    }
  }
}
for (const card of document.querySelectorAll(".card")) {
  measured.cards[card.id] = card.innerText;
}
const out = document.createElement("pre");
out.id = "measured";
out.textContent = JSON.stringify(measured);
document.body.appendChild(out);
</script>
"""
# The fixture's rooms were opened from Saturday 7 to Thursday 19 September 2024: 13 days, of
# which 7 closed (the weekends of the 7th-8th and 14th-15th, Chuseok on the 16th-18th).
CLOSED_DAYS = 7
# Data marks each chart must draw for the fixture (test_analytics_oracle's twelve rooms):
EXPECTED_MARKS = {
    # 7 closed-day bands; day and channel with consultations: 7 Sep (1), 10 Sep (2), 11 Sep
    # (0 and 1), 12 Sep (0), 13 Sep (2), 19 Sep (0 and 2): 8 bars.
    "consultations-per-day": CLOSED_DAYS + 8,
    # 7 bands; open days with an answered consultation: 10, 11, 12, 13 and 19 Sep (7 Sep, a
    # Saturday, is a band): 2 lines (median, p90), 2 x 5 points; the target's rule.
    "first-response-per-day": CLOSED_DAYS + 2 + 10 + 1,
    # One bar per score, 1 to 5 (3 got none: a bar of no height, still as wide).
    "ratings": 5,
    # Every weekday x hour: 7 x 24.
    "customer-messages-heat-map": 168,
}
# The headline over the fixture, in each language: 10 consultations, 8 answered; business first
# responses of the answered 60, 120, 180, 300, 300, 1,200, 1,800, 1,800 s: median 5 min, p90
# 30 min, 5 of the 10 within 5 minutes; ratings 4, 5, 1, 2 (average 3.0).
HEADLINE = {
    "en": {
        "consultations": "10",
        "answer-rate": "80%",
        "first-response-business": "5m 00s",
        "within-target": "Answered within 5 min\n50%",
        "average-rating": "3.0 / 5",
    },
    "ko": {
        "consultations": "10",
        "answer-rate": "80%",
        "first-response-business": "5분 0초",
        "within-target": "5분 이내 응답\n50%",
        "average-rating": "3.0 / 5",
    },
}
CLOSED_LABEL = {"en": "closed (weekend, holiday)", "ko": "휴무일 (주말·공휴일)"}
HOLIDAY = {"en": "2024-09-17 Chuseok", "ko": "2024-09-17 추석"}  # named under the day chart
# The day axes name the first day and the Mondays only, unrotated.
DAY_LABELS = {"en": ["Sep 7", "Sep 9", "Sep 16"], "ko": ["9월 7일", "9월 9일", "9월 16일"]}
# The busiest agent's row in the per-agent table: lc-lee (이바다) had 5 consultations.
AGENT_ROW = "<td>이바다 (lc-lee)</td><td>5</td>"


def chromium() -> str:
    """Chromium's executable; a skip without it, a failure under CI (which installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = (
        "Chromium is not installed: this test opens output/report.html in it. Install Debian's "
        "package (`apt-get install chromium`, as .ci/chromium.sh does)."
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """The fixture's report.html in English and in Korean, with a 5-minute target."""
    analytics = load_script("analytics")
    output = write_jsonl(tmp_path_factory.mktemp("report") / "output")
    built = analytics.build(output)
    return {
        language: analytics.write_report(
            built,
            output / f"report-{language}.html",
            target_minutes=TARGET_MINUTES,
            language=language,
        )
        for language in ("en", "ko")
    }


def measure(executable: str, path: Path, scratch: Path) -> dict[str, Any]:
    """Load a copy of `path` with MEASURE appended in a 1280 px window; what it measured."""
    page = path.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>")
    measured_page = scratch / f"measured-{path.name}"
    measured_page.write_text(page, encoding="utf-8")
    done = subprocess.run(
        [
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={scratch / 'profile'}",
            f"--window-size={WINDOW_WIDTH},3000",
            "--dump-dom",
            measured_page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, done.stdout[-2000:] + done.stderr[-2000:]
    text = found.group(1)
    for entity, character in (("&quot;", '"'), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        text = text.replace(entity, character)
    measured: dict[str, Any] = json.loads(text)
    return measured


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_report_is_static_and_offline_and_says_what_it_must(reports, language):
    page = reports[language].read_text(encoding="utf-8")
    assert f'<html lang="{language}">' in page
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert page.count("<svg") == len(EXPECTED_MARKS)
    for figure in EXPECTED_MARKS:
        assert f'<figure id="{figure}">' in page
    for table in ("week-table", "agent-table", "outcome-table"):
        assert f'<table id="{table}">' in page
    assert AGENT_ROW in page
    assert page.count(f">{CLOSED_LABEL[language]}</text>") == 2  # the legend of both day charts
    assert HOLIDAY[language] in page
    for figure in ("consultations-per-day", "first-response-per-day"):
        chart = page.split(f'<figure id="{figure}">')[1].split("</figure>")[0]
        labels = re.findall(r"<text[^>]*>(Sep \d+|9월 \d+일)</text>", chart)
        assert labels == DAY_LABELS[language], (figure, labels)
    for figure in ("consultations-per-day", "first-response-per-day", "ratings"):
        assert "rotate(" not in page.split(f'<figure id="{figure}">')[1].split("</figure>")[0]
    assert "Asia/Seoul" in page.split('<figure id="customer-messages-heat-map">')[1]
    assert "Noto Sans CJK KR" in page  # a font with Hangul, on the page and in the charts


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_report_fits_a_laptop_and_draws_every_chart_in_chromium(reports, language, tmp_path):
    measured = measure(chromium(), reports[language], tmp_path)

    assert measured["window"] == WINDOW_WIDTH
    assert measured["page"] <= WINDOW_WIDTH, measured
    assert measured["cut"] == [], measured["cut"]
    assert measured["clipped"] == [], measured["clipped"]
    assert set(measured["figures"]) == set(EXPECTED_MARKS)
    for figure, marks in EXPECTED_MARKS.items():
        chart = measured["figures"][figure]
        assert chart["width"] > 200, (figure, chart)
        assert chart["height"] > 100, (figure, chart)
        assert chart["right"] <= WINDOW_WIDTH, (figure, chart)
        assert chart["marks"] == marks, (figure, chart)
    cards = measured["cards"]
    assert set(cards) == {
        "consultations",
        "answer-rate",
        "first-response-business",
        "first-response-clock",
        "within-target",
        "average-rating",
    }
    for card, text in HEADLINE[language].items():
        assert text in cards[card], (card, cards[card])
    assert re.search(r"\d", cards["first-response-clock"]), cards
