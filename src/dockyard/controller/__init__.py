"""Controllers: converge what runs toward what releases ask for, one (service, env) at a time."""
