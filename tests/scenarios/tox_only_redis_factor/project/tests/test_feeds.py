from ingest import tasks


def test_import_feed_runs_under_the_mutex():
    assert (
        tasks.import_feed("https://example.invalid/feed.xml") == "imported https://example.invalid/feed.xml"
    )
