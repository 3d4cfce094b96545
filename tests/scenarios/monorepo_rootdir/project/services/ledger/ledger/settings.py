BROKER = "rabbitmq"
AMQP_URL = "amqp://127.0.0.1:5672?connection_attempts=1"
