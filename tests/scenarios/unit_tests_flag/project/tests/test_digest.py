from mailer import tasks
from mailer.broker import broker


def test_digest_is_queued():
    tasks.send_digest.send(7)
    assert broker.queues["digests"].qsize() == 1
