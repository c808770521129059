"""Every metric the invocation workers export (on their health server's /metrics). The
`executions` queue's depth and oldest message age are the gateway's scrape-time gauges
(nil_queue_messages / nil_queue_oldest_message_age_seconds{queue="executions"})."""

from prometheus_client import Counter, Gauge, Histogram

from common.contracts import Outcome

ATTEMPTS = Counter(
    "nil_invoker_attempts_total", "Attempts at asynchronous executions, by outcome", ["outcome"]
)
RETRIES = Counter(
    "nil_invoker_retries_total", "Attempts scheduled again after a failure, by reason", ["reason"]
)
DEAD_LETTERS = Counter(
    "nil_invoker_dead_letters_total", "Executions failed out of attempts (dead-lettered)"
)
REDELIVERIES = Counter(
    "nil_invoker_redeliveries_dropped_total",
    "Messages of finished or vanished executions deleted without running",
)
LATENCY_SECONDS = Histogram(
    "nil_invoker_latency_seconds",
    "Time from enqueue to the execution's end (asynchronous executions)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
IN_FLIGHT = Gauge("nil_invoker_in_flight", "Executions this worker runs now")
CONCURRENCY_DEFERRED = Counter(
    "nil_invoker_concurrency_deferred_total",
    "Executions put back for a second because their function was at limits.concurrency",
)

# Every known label value exported from the start, at 0: a first burst shows in rate().
for _outcome in Outcome:
    ATTEMPTS.labels(_outcome.value)
for _reason in (Outcome.PLATFORM_ERROR, Outcome.TIMEOUT):  # RETRYABLE (invoker/worker.py)
    RETRIES.labels(_reason.value)
