"""The web console at ``/ui/`` of ``basecamp serve``: server-rendered pages over the server's bus."""
