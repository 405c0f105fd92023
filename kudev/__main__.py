from kudev.cli import entry

# Guarded: hashing workers are spawned processes, which import __main__ again.
if __name__ == "__main__":
    entry()
