import os

os.environ["ORDERS_TESTING"] = "1"  # before the app is imported: it picks the StubBroker
