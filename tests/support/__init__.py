"""Test support shared by the whole suite: real S3 servers, fixtures and a fault-injecting proxy."""
