"""Singer tap for HappyTalk: service history, and consultation rooms with their messages."""
