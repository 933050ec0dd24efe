"""Integration-test support: a real CNCF distribution registry, generated OCI images, seeding.

Nothing here imports regtui: the expected facts come from the generator itself, so the tests
check regtui against an independent source of truth.
"""
