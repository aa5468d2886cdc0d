"""The benchmark (`make bench`); importable so tests measure the way it does."""
