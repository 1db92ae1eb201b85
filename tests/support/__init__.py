"""Helpers the tests share: plain modules, imported by tests and conftests (never a test module)."""
