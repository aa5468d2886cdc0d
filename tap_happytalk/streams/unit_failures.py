"""Which failures set one unit aside, and when so many fail in a row that a stream stops.

A room, a day's room list or a service-history window that still fails after the run's
retries is set aside (`progress.Why.FAILED`): the run goes on with every other unit. What
says nothing about one unit (a refused token, a redirect, a host never reached, the run
stopping) still ends the run. A streak of units asked for the first time failing one after
another ends the stream's run early instead: HappyTalk is then down, not one unit odd, and
asking for the rest would only cost each its retries. What failed is set aside and the point
moves past it, so the next run does not meet the same streak first; units asked again do not
count, so a few that keep failing can never hold a stream back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tap_happytalk.errors import HappyTalkResponseError, TapHappyTalkError, UnitUnavailableError

if TYPE_CHECKING:
    from tap_happytalk.transport import HappyTalkClient

# Units asked for the first time failing one after another, with none answering between them,
# before a stream stops for this run.
FAILED_IN_A_ROW = 10


@dataclass(frozen=True)
class UnitFailed:
    """A unit that kept failing this run: what HappyTalk did, in one line, without the token."""

    problem: str


def unit_failure(error: TapHappyTalkError, client: HappyTalkClient) -> UnitFailed | None:
    """The failure of one unit that `error` is, or None if it must end the run."""
    if client.stopping:
        return None
    if isinstance(error, (UnitUnavailableError, HappyTalkResponseError)):
        return UnitFailed(client.redact(str(error)))
    return None


@dataclass
class FailureStreak:
    """Counts units asked for the first time that failed in a row."""

    in_a_row: int = 0

    def answered(self) -> None:
        """A unit answered: the streak is broken."""
        self.in_a_row = 0

    def failed(self) -> bool:
        """A unit asked for the first time failed: is that `FAILED_IN_A_ROW` in a row?"""
        self.in_a_row += 1
        return self.in_a_row >= FAILED_IN_A_ROW
