"""Singer tap for HappyTalk: service history and, opt-in, consultations with their messages."""
