"""The tox front door's work, behind the thin hooks in :mod:`tox_broker_audit.tox_plugin`:
the options and env keys (``options``), one audit per tox invocation (``run``), and what
tox's configuration tells about an env (``facts``)."""
