"""`python -m tap_happytalk` runs the tap."""

from tap_happytalk.tap import TapHappyTalk

TapHappyTalk.cli()
