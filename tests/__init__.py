"""The test suite. A package, so that pytest names test modules tests.web.test_..., not
web.test_...: with tests/ on sys.path, tests/web would shadow the application package `web`."""
