"""Process exit codes of the kudev command."""

OK = 0
FAILED = 1  # a build, load or deploy failed (with --once), or a check failed
USAGE = 2  # bad arguments or invalid configuration
INTERRUPTED = 130
