import pytest

from orders import api


def test_placing_an_order_queues_the_receipt():
    placed = api.place_order("ada@example.org", ["book", "lamp"])
    assert placed["status"] == "placed"
    assert placed["receipt_task"]


def test_bad_addresses_are_rejected_before_anything_is_queued():
    with pytest.raises(api.OrderError):
        api.place_order("not-an-address", ["book"])
