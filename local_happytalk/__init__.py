"""A HappyTalk-compatible server on 127.0.0.1 for tests, benchmarks and the demo; not shipped.

See `local_happytalk.server` for what it serves, its fail codes (documented and assumed) and
its faults. Run it alone: `python -m local_happytalk --days 30 --per-day 40`.
"""

from local_happytalk.server import Fault, LocalHappyTalk, sample_events

__all__ = ["Fault", "LocalHappyTalk", "sample_events"]
