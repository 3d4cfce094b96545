from shop import checkout


def test_place_order(no_real_broker):
    assert checkout.place_order(12) == "placed"
    assert no_real_broker == [(12,)]
