"""From manifests to running pods: render, substitute images, apply, wait for the rollout."""
