"""Snapshots: the typed model of what the probe records (``model``), strict loading and
dumping (``io``), running the probe in an interpreter (``capture``), and choosing which
interpreter is the baseline (``baseline``)."""
