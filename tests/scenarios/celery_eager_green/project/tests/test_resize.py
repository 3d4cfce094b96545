from resize import tasks


def test_scale():
    assert tuple(tasks.scale.delay(800, 600, 0.5).get()) == (400, 300)


def test_fit():
    result = tasks.fit.apply_async((1920, 1080), {"box": 480})
    assert result.successful()
    assert tuple(result.get()) == (480, 270)
