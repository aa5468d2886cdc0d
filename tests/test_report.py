"""`make demo`'s picture: output/report.html, opened in headless Chromium, every chart drawn.

The report is built over the hand-worked fixture of `test_analytics_oracle` (so the number of
marks each chart must draw is known), by `scripts/analytics.py`'s `summarize`, which is what
`make demo` runs. Chromium (Debian's package, which `.ci/chromium.sh` installs) loads a copy of it
with a measuring script appended, and `--dump-dom` returns what it measured: each chart's size
on the page and how many of its data marks have an area. Without Chromium the test skips, except
under CI, where it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING

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
# Appended to a copy of the report (the report itself runs no script): per figure, the chart's
# size as laid out, and how many data marks (Vega's `role-mark` groups) have a non-empty box.
MEASURE = """
<script>
const measured = {};
for (const figure of document.querySelectorAll("figure")) {
  const svg = figure.querySelector("svg");
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const marks = svg ? [...svg.querySelectorAll(".role-mark > *")].filter((mark) => {
    const area = mark.getBBox();
    return area.width > 0 || area.height > 0;
  }).length : 0;
  measured[figure.id] = {width: box.width, height: box.height, marks: marks};
}
const out = document.createElement("pre");
out.id = "measured";
out.textContent = JSON.stringify(measured);
document.body.appendChild(out);
</script>
"""
# Data marks each chart must draw for the fixture (test_analytics_oracle's twelve rooms):
EXPECTED_MARKS = {
    # Day and channel with consultations: 7 Sep (1), 10 Sep (2), 11 Sep (0 and 1), 12 Sep (0),
    # 13 Sep (2), 19 Sep (0 and 2): 8 bars.
    "consultations-per-day": 8,
    # Days with an answered consultation: 7, 10, 11, 12, 13 and 19 Sep: 2 lines (median, p90)
    # and 2 x 6 points.
    "first-response-per-day": 14,
    # One bar per score, 1 to 5 (3 got none: a bar of no height, still as wide).
    "ratings": 5,
    # Every weekday x hour: 7 x 24.
    "customer-messages-heat-map": 168,
}


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
def report(tmp_path_factory) -> tuple[Path, str]:
    """The fixture's report.html, written by `summarize` as `make demo` writes it; the summary."""
    output = write_jsonl(tmp_path_factory.mktemp("report") / "output")
    summary = load_script("analytics").summarize(output)
    return output / "report.html", summary


def test_the_report_is_static_and_offline(report):
    path, summary = report
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert page.count("<svg") == len(EXPECTED_MARKS)
    for figure in EXPECTED_MARKS:
        assert f'<figure id="{figure}">' in page
    assert summary.splitlines()[-1] == f"Charts: {path}"


def test_every_chart_renders_in_headless_chromium(report, tmp_path):
    executable = chromium()
    path, _ = report
    page = path.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>")
    measured_page = tmp_path / "measured.html"
    measured_page.write_text(page, encoding="utf-8")
    done = subprocess.run(
        [
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,3000",
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
    measured = json.loads(found.group(1).replace("&quot;", '"'))
    assert set(measured) == set(EXPECTED_MARKS)
    for figure, marks in EXPECTED_MARKS.items():
        chart = measured[figure]
        assert chart["width"] > 200, (figure, chart)
        assert chart["height"] > 100, (figure, chart)
        assert chart["marks"] == marks, (figure, chart)
