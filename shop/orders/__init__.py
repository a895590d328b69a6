"""Orders: placement, the fields of each service type, the state machine, submission and refresh upstream, refills, cancels, history."""
