def test_page_is_queued(tasks):
    tasks.page_oncall.send("db down")
    assert tasks.page_oncall.broker.queues["pages"].qsize() == 1
