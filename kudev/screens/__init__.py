"""The dashboard's screens, and the plain-Python model they render (`state`, `feed`).

Deliberately empty: `kudev.screens.feed` and `state` do not import Textual.
The pod detail data hook, `PodDetailSource`, lives in the core (`kudev.deploy.pod_details`).
"""
