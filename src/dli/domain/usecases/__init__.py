"""The application layer: one message per operation (``messages``), one handler each, and the bus."""
