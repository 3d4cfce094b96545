from greeter import tasks


def test_greeting_is_queued(broker):
    tasks.greet.send("ada")
    assert broker.queues["greetings"].qsize() == 1
