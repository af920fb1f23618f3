"""Helpers the tests share: fuzzing settings, factories, servers on loopback (issue 9)."""
