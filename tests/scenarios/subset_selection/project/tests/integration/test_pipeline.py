from reports import tasks


def test_report_is_built(worker):
    tasks.build_report.send(1)
    tasks.build_report.broker.join("reports")
    worker.join()
