"""Measuring sticks: throughput now; retrieval, verification and robustness build on it."""
