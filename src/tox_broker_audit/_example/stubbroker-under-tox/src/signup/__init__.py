"""A tiny sign-up service: the HTTP layer calls ``api.register``, which queues e-mails."""
