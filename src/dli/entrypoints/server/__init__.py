"""The Basecamp server: the REST API over the in-process control plane (``basecamp serve``)."""
