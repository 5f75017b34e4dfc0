"""The domain: entities, value objects, policies and use-cases. Pure: no I/O."""
