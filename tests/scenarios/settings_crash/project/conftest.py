import settings  # noqa: F401 - the tests need configured settings
