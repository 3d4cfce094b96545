from notify import tasks


def test_welcome_is_queued(app):
    tasks.send_welcome.send(42)
    assert app.extensions["dramatiq"].broker.queues["emails"].qsize() == 1
