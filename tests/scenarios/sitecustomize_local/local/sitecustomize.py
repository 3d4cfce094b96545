# Put here by the team's dev-setup script: a dev shell must never talk to a real broker.
import dramatiq
from dramatiq.brokers.stub import StubBroker

dramatiq.set_broker(StubBroker())
