broker_url = "amqp://guest@localhost:5672//"
task_default_queue = "orders"
task_serializer = "json"
task_ignore_result = True
