"""Fixtures of the store integration tests: real S3-protocol servers on loopback."""

from tests.support.s3_servers import moto_server, rclone_server

__all__ = ["moto_server", "rclone_server"]  # pytest finds fixtures by name in a conftest
