"""dli.adapters.simulation."""
