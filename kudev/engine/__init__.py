"""The inner loop and its pure decisions."""
