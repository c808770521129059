"""Waiting for executions to end without a database connection per waiter.

One LISTEN connection per process (`ExecutionWatch`, started on first use — after a
gunicorn fork) receives `nil_execution_finished` (sent by a trigger on executions when
one ends, migration 0007) and wakes the waiters of that execution. A waiter registers a
`wake` callable: a `threading.Event.set` for a thread, or a gevent async watcher's `send`
(thread-safe) for a greenlet (gateway/worker.py parks long-polls on greenlets, so a
waiting request holds neither a connection nor an app thread).

No notification is lost between a waiter's last read and its registration: the watch
remembers the executions that ended in the last minute (`ended_recently`). While the
listener is disconnected, every waiter is woken when it reconnects (it reads again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

import psycopg

logger = logging.getLogger(__name__)

CHANNEL = "nil_execution_finished"
RECENT_SECONDS = 60.0
RECENT_MAX = 100_000


class _Listener:
    """One LISTEN connection on `channel` in a daemon thread (started on first use, so
    after a fork), reconnecting with a backoff up to 5 s; `connected` is set while it
    listens. A subclass says what a notification, a (re)connection and a lost
    connection do."""

    channel = ""
    thread_name = ""
    disconnected_event = ""  # the log event of a lost connection

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.connected = threading.Event()

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name=self.thread_name, daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _notified(self, payload: str) -> None:
        raise NotImplementedError

    def _reconnected(self) -> None:
        """Listening (again): anything may have happened while it was not."""

    def _disconnected(self) -> None:
        """The connection was lost; the next attempt follows the backoff."""

    def _listen(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {self.channel}")
                    self.connected.set()
                    backoff = 0.1
                    self._reconnected()
                    while not self._stopping.is_set():
                        for notify in conn.notifies(timeout=1.0):
                            self._notified(notify.payload)
            except psycopg.Error as exc:
                self.connected.clear()
                self._disconnected()
                logger.warning(self.disconnected_event, extra={"error": str(exc)})
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)


class ExecutionWatch(_Listener):
    channel = CHANNEL
    thread_name = "execution-watch"
    disconnected_event = "execution_watch.disconnected"

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url)
        self._lock = threading.Lock()
        self._waiters: dict[UUID, list[Callable[[], None]]] = {}
        self._recent: OrderedDict[UUID, float] = OrderedDict()

    def register(self, execution_id: UUID, wake: Callable[[], None]) -> bool:
        """Call `wake` when the execution ends; False (nothing registered) when it ended
        in the last minute already."""
        self.start()
        with self._lock:
            if execution_id in self._recent:
                return False
            self._waiters.setdefault(execution_id, []).append(wake)
            return True

    def unregister(self, execution_id: UUID, wake: Callable[[], None]) -> None:
        with self._lock:
            waiters = self._waiters.get(execution_id)
            if waiters and wake in waiters:
                waiters.remove(wake)
                if not waiters:
                    del self._waiters[execution_id]

    def wait(self, execution_id: UUID, seconds: float) -> bool:
        """Block this thread until the execution ends or `seconds` pass; True if woken."""
        event = threading.Event()
        if not self.register(execution_id, event.set):
            return True
        try:
            return event.wait(seconds)
        finally:
            self.unregister(execution_id, event.set)

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiters.values())

    def _ended(self, execution_id: UUID) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent[execution_id] = now
            self._recent.move_to_end(execution_id)
            while self._recent and (
                len(self._recent) > RECENT_MAX
                or next(iter(self._recent.values())) < now - RECENT_SECONDS
            ):
                self._recent.popitem(last=False)
            waiters = self._waiters.pop(execution_id, [])
        for wake in waiters:
            wake()

    def _wake_all(self) -> None:
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws]
        for wake in waiters:
            wake()

    def _notified(self, payload: str) -> None:
        try:
            self._ended(UUID(payload))
        except ValueError:
            pass

    def _reconnected(self) -> None:
        self._wake_all()  # anything may have ended while disconnected


QUEUED_CHANNEL = "nil_executions_queued"


class QueueWatch(_Listener):
    """Wakes idle invocation slots when a message is sent to the queue `executions`
    (a statement trigger on pgmq's table notifies `nil_executions_queued` when the
    sending transaction commits, migration 0011), so an idle invoker sends the database
    nothing but its slow fallback read instead of polling every few milliseconds.

    A slot takes `mark()` before it reads the queue and, when the read found nothing,
    `wait(mark, seconds)`: a notification that arrives between the read and the wait is
    not lost (the mark changed). One notification wakes one slot; a slot that got a
    message wakes the next (`wake_one`), so a burst fans out over the slots without
    every slot reading for every message. While the listener is disconnected, slots
    wait at most `DISCONNECTED_POLL_SECONDS` between reads."""

    DISCONNECTED_POLL_SECONDS = 1.0
    channel = QUEUED_CHANNEL
    thread_name = "queue-watch"
    disconnected_event = "queue_watch.disconnected"

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url)
        self._cond = threading.Condition()
        self._generation = 0

    def stop(self) -> None:
        super().stop()
        self.wake_all()

    def mark(self) -> int:
        with self._cond:
            return self._generation

    def wait(self, mark: int, seconds: float) -> bool:
        """Until a message may have been sent since `mark`, or `seconds` passed; True if
        woken by a notification."""
        self.start()
        if not self.connected.is_set():
            seconds = min(seconds, self.DISCONNECTED_POLL_SECONDS)
        with self._cond:
            return self._cond.wait_for(
                lambda: self._generation != mark or self._stopping.is_set(), max(0.0, seconds)
            )

    def wake_one(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify()

    def wake_all(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def _notified(self, payload: str) -> None:
        self.wake_one()

    def _reconnected(self) -> None:
        self.wake_all()  # anything may have been sent while disconnected

    def _disconnected(self) -> None:
        self.wake_all()  # the slots fall back to polling
