"""OCI registries and artifacts: kudev's manifests published as a Flux-format OCI artifact.

reference: `HOST/REPO[:TAG][@sha256:…]` · auth: logins from Docker's config.json and
credential helpers · client: the distribution API (blobs, manifests, uploads) · artifact:
Flux's artifact format, reproducible · source: pulling, verifying and caching an artifact
for a `manifests:` entry.

Nothing here imports docker, kubernetes or the deploy side: a daemonless builder can share it.
"""
