from manual import tasks


def test_render_is_queued(broker):
    tasks.render.send("ada")
    assert broker.queues["render"].qsize() == 1
