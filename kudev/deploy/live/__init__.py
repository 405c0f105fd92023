"""The app's live streams between cycles: pods, logs and port-forwards."""
