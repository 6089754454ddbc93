"""Fake platform servers for tests: they check our requests the way the real platforms do."""
