"""dli.adapters.basecamp."""
