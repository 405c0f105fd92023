"""Where images come from: the build context Docker would see, its hash, and the watch."""
