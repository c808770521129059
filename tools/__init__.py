"""Developer tooling: the local platform launcher used by `make dev` and the tests."""
