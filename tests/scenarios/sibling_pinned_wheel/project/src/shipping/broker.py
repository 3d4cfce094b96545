import dramatiq
from courier_kit import make_broker

broker = make_broker("stub://")
dramatiq.set_broker(broker)
