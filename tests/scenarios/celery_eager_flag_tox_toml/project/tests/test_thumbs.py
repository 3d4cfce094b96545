from thumbs import tasks


def test_thumbnail_is_rendered():
    result = tasks.thumbnail.delay("cat.png", 64)
    assert result.get(timeout=5) == "cat-64.png"


def test_all_sizes():
    result = tasks.sizes.apply_async(("dog.jpg",))
    assert result.successful()
    assert result.get() == ["dog-64.jpg", "dog-128.jpg"]
