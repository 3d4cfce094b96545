"""The verify stage: re-run the target probe with one difference undone and watch the symptom.

``symptom`` (what the failure depends on, comparable across the two sides), ``interventions``
(the differences that can be undone in a re-probe), ``search`` (pure: candidates first, then
ddmin), ``runner`` (re-probes through :mod:`..snapshot.capture`) and ``annotate`` (the
verification written into the report). See docs/architecture.md, "The verify stage".
"""
