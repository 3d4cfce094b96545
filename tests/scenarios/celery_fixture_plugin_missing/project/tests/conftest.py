import pytest


@pytest.fixture(scope="session")
def celery_config():
    return {
        "broker_url": "memory://",
        "result_backend": "cache+memory://",
        "task_always_eager": True,
        "task_eager_propagates": True,
    }


@pytest.fixture(autouse=True)
def current_celery_app(celery_app):
    # shared_task resolves the *current* app at call time: make it the test app
    celery_app.set_current()
    return celery_app
