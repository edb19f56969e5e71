"""The test suite: a package, so that tests.conftest and tests.servers never resolve to another
distribution's top-level tests package (ppi-python ships one)."""
