"""The local development stack behind ``dli dev up | down | status``."""
