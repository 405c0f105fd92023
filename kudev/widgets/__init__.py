"""Widgets of the dashboard: status header and stage strip, error banner, build, pods, logs."""
