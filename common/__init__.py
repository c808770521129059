"""Code shared by the gateway, the builder and the runner: contracts, config, logging."""
