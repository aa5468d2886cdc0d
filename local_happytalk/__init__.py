"""A HappyTalk-compatible server on 127.0.0.1 for tests, benchmarks and the demo; not shipped."""
