"""Fault injection: a TCP proxy that resets, stalls and drips, and the tests that go through it."""
