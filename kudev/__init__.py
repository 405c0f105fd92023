"""kudev: the inner loop for Kubernetes."""
