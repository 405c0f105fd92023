from kudev.cli import entry

entry()
