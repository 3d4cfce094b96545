"""Schedules, queued through dramatiq."""
