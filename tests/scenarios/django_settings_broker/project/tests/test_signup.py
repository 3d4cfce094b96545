import dramatiq
from signup import tasks


def test_welcome_is_queued():
    tasks.send_welcome.send(7)
    broker = dramatiq.get_broker()
    assert broker.queues["welcome"].qsize() == 1
