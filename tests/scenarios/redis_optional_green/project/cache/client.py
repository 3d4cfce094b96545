"""A cache client: redis-py builds its connection pool lazily, so importing this opens nothing."""

import os

import redis

client = redis.Redis.from_url(os.environ.get("CACHE_URL", "redis://127.0.0.1:6399/0"))
