import dramatiq


def pytest_configure(config):
    # "once per run": the controller only (workers have config.workerinput)
    if not hasattr(config, "workerinput"):
        from dramatiq.brokers.stub import StubBroker

        broker = StubBroker()
        broker.emit_after("process_boot")
        dramatiq.set_broker(broker)
