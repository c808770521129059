import pytest

from builder.settings import Settings as BuilderSettings
from builder.worker import Builder
from consumer.results import ResultConsumer


@pytest.fixture
def builder(pool, toolchains):
    return Builder(pool, BuilderSettings(compile_timeout_seconds=60, max_reads=3), toolchains)


@pytest.fixture
def consumer(pool):
    return ResultConsumer(pool)


@pytest.fixture
def compile_all(builder, consumer):
    """Drain the job queue through the real builder, then apply every result."""

    def drain() -> None:
        builder.run(wait=False)
        consumer.run(wait=False)

    return drain
