from ledger import balance


def test_balance():
    assert balance([1, 2, 3]) == 6
