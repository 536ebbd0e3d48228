"""Trust: TUF (python-tuf) metadata over everything the aircraft takes from the ground.

Ground side (`appliance trust init|publish|rotate`, appliance.trust.repo) signs a static repository;
the aircraft side (appliance.trust.client) refreshes it and verifies every file against the signed targets.
"""

ROLES = ("root", "targets", "snapshot", "timestamp")  # TUF's top-level roles
