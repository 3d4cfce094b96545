from reports import tasks
from reports.broker import broker


def test_render_is_queued():
    tasks.render.send(5)
    assert broker.queues["reports"].qsize() == 1
