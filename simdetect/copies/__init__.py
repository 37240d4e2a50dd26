"""Copy detection: find the specific source work behind an edited copy."""
