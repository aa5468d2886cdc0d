"""Singer tap for HappyTalk's service history."""
