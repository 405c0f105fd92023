"""The dashboard's screens, and the plain-Python model they render (`state`, `feed`).

Deliberately empty: `kudev.screens.feed`, `state` and `pod_source` do not import Textual, so the
deploy side can implement `PodDetailSource` without pulling in the UI.
"""
