"""Settings read from the environment, the twelve-factor way: a missing variable is an error."""

import os

DB_NAME = os.environ["LEDGER_DB_NAME"]
