"""Service discovery: each service environment's ready instances (endpoints), their version,
and watches that learn of a change within a poll interval of the controller's write."""
