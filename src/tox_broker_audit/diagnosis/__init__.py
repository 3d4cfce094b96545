"""From a snapshot pair to a ranked report: the model, the code table, the hook specs and
plugin registry, the rules, and the engine that links and ranks their findings.

Import order inside the package (no cycles): ``model`` and ``codes`` are leaves; ``hooks``
and ``wording`` use the model; ``rules`` use ``hooks``, ``codes`` and the model;
``registry`` registers the rules; ``engine`` runs them.
"""
