from crontab import tasks


def test_schedule_is_queued(broker):
    tasks.schedule.send("ada")
    assert broker.queues["schedule"].qsize() == 1
