"""One feed import at a time: a Redis-backed mutex when redis is installed, in-memory otherwise."""

import os

from dramatiq.rate_limits import ConcurrentRateLimiter

try:
    import redis  # noqa: F401 - the optional extra `ingest[redis]`
except ImportError:
    from dramatiq.rate_limits.backends import StubBackend

    backend = StubBackend()
else:
    from dramatiq.rate_limits.backends import RedisBackend

    backend = RedisBackend(url=os.getenv("INGEST_REDIS_URL", "redis://127.0.0.1:6379/0"))

FEED_MUTEX = ConcurrentRateLimiter(backend, "feed-import", limit=1)
