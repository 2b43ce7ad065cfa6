"""Shared helpers for the test suite (importable as `testkit`, tests/ is on the pythonpath)."""
