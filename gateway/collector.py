"""Gauges read at scrape time: functions by status, compilation queues (pgmq's own
metrics), and the runner pool (the runner directory and the supervisor's state)."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from common.contracts import FunctionStatus
from common.errors import NilError

logger = logging.getLogger(__name__)


class PlatformCollector:
    def __init__(self, platform) -> None:
        self.platform = platform

    def collect(self) -> Iterator[Metric]:
        database_up = yield from self._database()
        runners_up = yield from self._pool()
        up = GaugeMetricFamily(
            "nil_component_up",
            "1 when a component the gateway needs answers (readiness)",
            labels=["component"],
        )
        up.add_metric(["database"], 1 if database_up else 0)
        up.add_metric(["runners"], 1 if runners_up else 0)
        yield up

    def _database(self) -> Generator[Metric, None, bool]:
        from common.db import transaction
        from db import functions as repo

        try:
            with transaction(self.platform.db) as conn:
                counts = repo.count_by_status(conn)
            depths = self.platform.queues.depths()
        except NilError:
            return False
        functions = GaugeMetricFamily("nil_functions", "Functions by status", labels=["status"])
        for status in FunctionStatus:
            functions.add_metric([status.value], counts.get(status.value, 0))
        yield functions
        length = GaugeMetricFamily(
            "nil_queue_messages", "Messages in a compilation queue", labels=["queue"]
        )
        visible = GaugeMetricFamily(
            "nil_queue_visible_messages", "Messages ready to be read", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "nil_queue_oldest_message_age_seconds",
            "Age of the oldest message (for results: the consumer's lag)",
            labels=["queue"],
        )
        for depth in depths:
            length.add_metric([depth.queue], depth.length)
            visible.add_metric([depth.queue], depth.visible)
            age.add_metric([depth.queue], depth.oldest_age_seconds)
        yield from (length, visible, age)
        return True

    def _pool(self) -> Generator[Metric, None, bool]:
        runners = self.platform.runners
        addresses = runners.addresses()
        busy = sum(1 for a in addresses if runners.is_busy(a))
        size = GaugeMetricFamily("nil_runner_pool_runners", "Shared runners in the pool")
        size.add_metric([], len(addresses))
        busy_gauge = GaugeMetricFamily("nil_runner_pool_busy", "Runners running a call now")
        busy_gauge.add_metric([], busy)
        idle = GaugeMetricFamily("nil_runner_pool_idle", "Runners free now")
        idle.add_metric([], len(addresses) - busy)
        yield from (size, busy_gauge, idle)
        replaced = runners.replacements()
        if replaced is not None:
            replacements = CounterMetricFamily(
                "nil_runner_pool_replacements", "Runners replaced after dying or hanging"
            )
            replacements.add_metric([], replaced)
            yield replacements
        return bool(addresses)
