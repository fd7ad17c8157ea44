"""Benchmarks for batchpay (issue 7): ``python -m benchmarks --help``. Not part of the tests."""
