"""Built-in diagnosis rules, registered through our own pluggy hook ``broker_audit_rules``.

Contract for every rule (built-in or third-party)
--------------------------------------------------

A rule is any callable ``(ctx: DiagnosisContext) -> Iterable[Finding]``. ``ctx`` holds
``baseline`` (``None`` in single-snapshot mode), ``target``, ``diff`` (a
:class:`~tox_broker_audit.diff.SnapshotDiff`, ``None`` without a baseline), ``tox``
(:class:`~tox_broker_audit.diagnosis.model.ToxFacts` or ``None``) and ``env_name``. Rules are only
called without a baseline when they say they can: decorate them with
``@rule(needs_baseline=False)`` (``tox_broker_audit.rule``) (BA901/BA902 and the BA6xx broker rules do).

Rules do not set ``id``, ``root_cause`` or ``explains``: the diagnosis assigns them after
linking and ranking. They do set:

``severity`` / ``group``
    ``group="cause"``: something the code used (a variable it read, a module it imported, a
    plugin that imported an app module) — ranked first; ``"other"``: a difference nobody
    touched; ``"expected"``: tox's own noise (``TOX_*``, ``PYTHONHASHSEED``,
    ``_virtualenv.pth``, pip/setuptools/wheel seeding, ``VIRTUAL_ENV``, ``PATH``, ``PIP_*``,
    ``PYTHONIOENCODING``) — grouped and de-ranked, never dropped.
``score``
    Within a group and severity, higher ranks first. Built-in scale: 100 used by project
    code, 90 by a plugin/conftest/start-up hook, 40 by a library, 10 by pytest/stdlib
    internals, 0 unused.
``about`` / ``effects_on``
    Tuples of tokens for causal linking (``Finding`` fields; ``_common.finding`` takes them
    as keyword arguments): finding C *explains* E when C's ``effects_on`` and E's ``about``
    share a token. A rule may still put them in ``evidence["about"]`` /
    ``evidence["effects_on"]`` (the first extension API): the diagnosis moves them into the
    fields (``diagnosis.links.adopt_links``) before linking. Tokens: ``env:NAME``, ``module:dotted.name``,
    ``file:/abs/path``, ``broker:ID``, ``target:host:port``, ``dist:name``,
    ``plugin:name``, ``ini:key``, ``pytest:field``, ``syspath:entry``. Examples: BA101
    ``UNIT_TESTS`` is about ``env:UNIT_TESTS`` and has effects on ``module:app.broker`` and
    ``file:/p/app/broker.py`` (the code that read it); BA602/BA605 are about
    ``module:app.broker``/``broker:ID`` with effects on ``broker:ID`` and
    ``target:127.0.0.1:5672``; BA601 is about ``broker:ID``/``module:app.tasks`` with effects
    on the target; BA603 is about ``target:127.0.0.1:5672``. A ``cause`` finding that
    explains others and is explained by no error/warning finding becomes the root cause.

Registering rules from another package
--------------------------------------

Expose a module under the entry-point group ``tox_broker_audit`` that implements
``broker_audit_rules`` with ``tox_broker_audit.hookimpl`` (see ``docs/extending.md``).
Built-in rule modules are registered the same way: each module in this package has a
``broker_audit_rules`` hookimpl, and :mod:`tox_broker_audit.diagnosis.registry` registers them.
Rules say *what* to change as a structured ``Fix`` (``change=``); the front door words it.
"""
