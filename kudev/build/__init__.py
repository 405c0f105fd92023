"""Turning a build context into an image: the builder seam and its implementations."""
