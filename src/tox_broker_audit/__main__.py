from __future__ import annotations

import sys

from tox_broker_audit.cli import main

if __name__ == "__main__":
    sys.exit(main())
