"""Which cluster this is, whether kudev may deploy there, and how images reach its nodes."""
