"""dli.adapters.codecs."""
