def queued(broker, queue_name):
    return broker.queues[queue_name].qsize()
