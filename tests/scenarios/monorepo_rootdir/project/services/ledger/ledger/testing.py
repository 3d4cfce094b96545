"""pytest plugin (``-p ledger.testing``): run the ledger against a StubBroker."""

from ledger import settings

settings.BROKER = "stub"
