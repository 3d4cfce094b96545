from reports import tasks


def test_build_report_is_queued():
    tasks.build_report.send(2)
    assert tasks.build_report.broker.queues["reports"].qsize() >= 1
