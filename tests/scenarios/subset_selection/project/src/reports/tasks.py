import dramatiq


@dramatiq.actor(queue_name="reports")  # the global broker: RabbitMQ unless something set another
def build_report(report_id: int) -> None:
    print(f"building {report_id}")
