import pytest

from builder.settings import Settings as BuilderSettings
from builder.worker import Builder
from consumer.results import ResultConsumer


@pytest.fixture
def builder(db, toolchains):
    return Builder(db, BuilderSettings(compile_timeout_seconds=60, max_reads=3), toolchains)


@pytest.fixture
def consumer(db):
    return ResultConsumer(db)


@pytest.fixture
def compile_all(builder, consumer):
    """Drain the job queue through the real builder, then apply every result."""

    def drain() -> None:
        builder.run(wait=False)
        consumer.run(wait=False)

    return drain
