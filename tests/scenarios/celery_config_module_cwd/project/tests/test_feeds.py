from feeds import tasks


def test_fetch():
    result = tasks.fetch.delay("https://example.invalid/rss")
    assert result.get(timeout=5) == {"url": "https://example.invalid/rss", "entries": 3}


def test_slugify():
    result = tasks.slugify.apply_async(("Hello Celery World",))
    assert result.successful()
    assert result.get() == "hello-celery-world"
