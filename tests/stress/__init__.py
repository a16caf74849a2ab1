"""The long runs (make stress): a package, so its conftest does not shadow tests/conftest.py as module `conftest`."""
