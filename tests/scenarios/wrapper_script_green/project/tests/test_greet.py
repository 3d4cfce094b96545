from greet import tasks


def test_greet_is_queued(stub_broker):
    tasks.greet.send("ada")
    assert stub_broker.queues["greetings"].qsize() == 1
