"""The project's test runner: pytest with the project's defaults, as some projects keep one."""

import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(["tests", *sys.argv[1:]]))
