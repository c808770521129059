from tests.integration.conftest import builder, compile_all, consumer  # noqa: F401
