"""dli.domain.model."""
