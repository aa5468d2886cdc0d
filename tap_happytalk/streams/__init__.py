"""The streams: service history, and consultation rooms with their messages."""
