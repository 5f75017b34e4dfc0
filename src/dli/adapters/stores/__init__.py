"""dli.adapters.stores."""
