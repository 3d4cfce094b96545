import settings


def test_db_name():
    assert settings.DB_NAME.endswith("_test")
