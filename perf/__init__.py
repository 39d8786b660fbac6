"""Benchmarks and the synthetic data they share with the tests."""
