import dramatiq
from alerts import tasks


def test_page_is_queued():
    tasks.page.send("alice")
    assert dramatiq.get_broker().queues["pages"].qsize() == 1
