import dramatiq

from reports.broker import broker


@dramatiq.actor(broker=broker, queue_name="reports")
def render(report_id: int) -> None:
    print(f"rendering {report_id}")
