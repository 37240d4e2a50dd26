"""Evidence records and their renderings."""
