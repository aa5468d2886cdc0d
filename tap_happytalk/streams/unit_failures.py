"""Which failures set one unit aside, and when so many fail in a row that the run stops.

A room, a day's room list or a service-history window that still fails after the run's
retries is set aside (`progress.Why.FAILED`): the run goes on with every other unit. What
says nothing about one unit (a refused token, a redirect, a host never reached, the run
stopping) still ends the run. So does a streak of failed units: HappyTalk is then down, not
one unit odd, and asking for the rest would only set the whole range aside.
"""

from __future__ import annotations

from dataclasses import dataclass

from tap_happytalk.errors import HappyTalkResponseError, TapHappyTalkError, UnitUnavailableError

# Units failing one after another, with no unit answering between them, before the run stops.
FAILED_IN_A_ROW = 10


@dataclass(frozen=True)
class UnitFailed:
    """A unit that kept failing this run: the error that says why (one line, no token)."""

    error: TapHappyTalkError


def unit_failure(error: TapHappyTalkError, *, stopping: bool) -> UnitFailed | None:
    """The failure of one unit that `error` is, or None if it must end the run."""
    if stopping:
        return None
    if isinstance(error, (UnitUnavailableError, HappyTalkResponseError)):
        return UnitFailed(error)
    return None


@dataclass
class FailureStreak:
    """Counts units failed in a row; raises the last failure once there are too many."""

    in_a_row: int = 0

    def answered(self) -> None:
        """A unit answered: the streak is broken."""
        self.in_a_row = 0

    def failed(self, error: TapHappyTalkError) -> None:
        """A unit failed.

        Raises:
            TapHappyTalkError: `error`, the `FAILED_IN_A_ROW`th failure in a row.
        """
        self.in_a_row += 1
        if self.in_a_row >= FAILED_IN_A_ROW:
            raise error
