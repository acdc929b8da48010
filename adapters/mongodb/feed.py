"""ConversationFeed on MongoDB: one document per event, followed by every process and host on the database.

Collections
-----------
* `conversation_events`: `{conversation_id, event_id, type, data, created_at, expires_at}`, unique on
  (conversation_id, event_id). The unique index *is* the numbering: `append` inserts `last + 1` and, when
  another process took that id first (DuplicateKeyError), re-reads the newest id and tries the next one. An
  id is only ever tried after the one before it was stored, so ids have no gaps and no duplicates, whatever
  crashes — there is no counter to keep in step. `expires_at` = `created_at + retention` (absent with no
  retention) and a TTL index removes the event then (the server sweeps about once a minute).
* `conversation_event_heads`: `{_id: conversation_id, last}`, raised with `$max` after each append, in a task of
  its own (one write in flight per conversation, later appends folded into the next one). It is only
  a floor for the numbering once every event of a conversation has expired (so ids never start again at 1);
  the newest stored event wins over it. A crash before that write leaves it a few events behind, which matters
  only if that conversation then stays quiet for the whole retention window.

Delivery
--------
Subscribers of this process are woken right after a successful append (no round trip). Appends by other
processes arrive through one **change stream** per adapter (`watch` on inserts), opened when the first
subscription opens and resumed from its resume token after an error; if it cannot be resumed, it is opened
again and every subscriber re-reads the store, so nothing is missed. A server without change streams
(a standalone mongod: `watch` fails with OperationFailure) is instead **polled** every `poll_interval`
seconds for the newer events of the conversations followed here; which mode is in use is logged once at
INFO. Either way a subscriber that sees `event_id > last + 1` reads the missing ones from the collection,
so order and no-gaps hold even when events arrive out of order (see adapters/fanout.py).

Writes go without `j: true`: the feed serves live delivery and resume; replies are recorded in `messages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from adapters.fanout import SETTLE_DELAYS, Fanout
from adapters.mongodb.documents import Document, bson_time, collection
from adapters.mongodb.errors import DRIVER_ERRORS, store_operation, store_unavailable
from application.ports.feed import ConversationFeed, FeedEvent
from domain.errors import ResumeGap, StoreUnavailable

log = logging.getLogger("centralita.mongodb.feed")

EVENTS = "conversation_events"
HEADS = "conversation_event_heads"
FEED_INDEXES: dict[str, list[IndexModel]] = {
    EVENTS: [
        IndexModel(
            [("conversation_id", ASCENDING), ("event_id", ASCENDING)], unique=True, name="conversation_event"
        ),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expiry"),
    ],
}

DEFAULT_RETENTION = timedelta(hours=24)
DEFAULT_BUFFER = 256
DEFAULT_POLL_INTERVAL = 0.1  # seconds, only without change streams
_CACHED_CONVERSATIONS = 100_000  # newest event_id remembered per conversation (LRU)
_APPEND_ATTEMPTS = 100
_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)  # reopening the change stream or polling after an error


class MongoConversationFeed(ConversationFeed):
    def __init__(
        self,
        db: AsyncDatabase[Any],
        retention: timedelta | None = DEFAULT_RETENTION,
        *,
        buffer: int = DEFAULT_BUFFER,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        self._events = collection(db, EVENTS, journal=False)
        self._heads = collection(db, HEADS, journal=False)
        self._retention = retention
        self._poll_interval = poll_interval
        self._fanout = Fanout(self._read, buffer)
        self._last: OrderedDict[str, int] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # appends of one conversation, in turn
        self._follower: asyncio.Task[None] | None = None
        self._following: asyncio.Future[None] | None = None  # done once the stream (or polling) is on
        self._writer = uuid.uuid4().hex  # marks this adapter's events, which its change stream skips
        self._head_pending: dict[str, int] = {}  # the newest event_id to record as a head, per conversation
        self._head_writes: set[asyncio.Task[None]] = set()
        self.mode: str | None = None  # "change stream" or "polling", once known
        self._closed = False

    # --- writing ------------------------------------------------------------------------------------

    @store_operation("append a conversation event")
    async def append(
        self, conversation_id: str, type: str, data: Mapping[str, Any], now: datetime
    ) -> FeedEvent:
        async with self._turn(conversation_id):
            last = self._last.get(conversation_id)
            if last is None:
                last = await self._newest(conversation_id, 0)
            created_at = bson_time(now)
            for _ in range(_APPEND_ATTEMPTS):
                document: Document = {
                    "conversation_id": conversation_id,
                    "event_id": last + 1,
                    "type": type,
                    "data": dict(data),
                    "created_at": created_at,
                    "writer": self._writer,
                }
                if self._retention is not None:
                    document["expires_at"] = created_at + self._retention
                try:
                    await self._events.insert_one(document)
                except DuplicateKeyError:  # another process took it: go on from the newest stored
                    last = await self._newest(conversation_id, last + 1)
                    continue
                event = _event(document)
                self._remember(conversation_id, event.event_id)
                self._fanout.publish(event)
                self._raise_head_soon(conversation_id, event.event_id)
                return event
        raise StoreUnavailable("A conversation event could not be numbered: too many concurrent writers.")

    @asynccontextmanager
    async def _turn(self, conversation_id: str) -> AsyncIterator[None]:
        # One append at a time per conversation in this process: the cached id is then exact here and only
        # other processes can make an insert collide.
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[conversation_id]
            if users == 1:
                del self._locks[conversation_id]
            else:
                self._locks[conversation_id] = (lock, users - 1)

    async def _newest(self, conversation_id: str, floor: int) -> int:
        """The newest event_id stored (at least `floor` and the head's floor), read with a bounded filter."""
        head = await self._heads.find_one({"_id": conversation_id})
        floor = max(floor, int(head["last"]) if head else 0)
        newest = await self._events.find_one(
            {"conversation_id": conversation_id, "event_id": {"$gte": floor}},
            {"event_id": 1},
            sort=[("event_id", DESCENDING)],
        )
        return max(floor, int(newest["event_id"]) if newest else 0)

    def _raise_head_soon(self, conversation_id: str, event_id: int) -> None:
        """Raise the head in a task of its own, one write at a time per conversation: the appends after it
        do not wait (the head is only a floor, and `$max` makes the order of the writes irrelevant)."""
        pending = self._head_pending.get(conversation_id)
        self._head_pending[conversation_id] = max(event_id, pending or 0)
        if pending is None:
            task = asyncio.create_task(self._raise_heads(conversation_id))
            self._head_writes.add(task)
            task.add_done_callback(self._head_writes.discard)

    async def _raise_heads(self, conversation_id: str) -> None:
        try:
            while True:
                event_id = self._head_pending[conversation_id]
                await self._raise_head(conversation_id, event_id)
                if self._head_pending[conversation_id] == event_id:  # nothing newer appended meanwhile
                    return
        finally:
            del self._head_pending[conversation_id]

    async def _raise_head(self, conversation_id: str, event_id: int) -> None:
        try:
            await self._heads.update_one({"_id": conversation_id}, {"$max": {"last": event_id}}, upsert=True)
        except DuplicateKeyError:  # two first upserts raced: the other one is there now
            await self._heads.update_one({"_id": conversation_id}, {"$max": {"last": event_id}})
        except PyMongoError as error:  # the event is stored and delivered; the floor is only a safeguard
            log.warning("could not record the newest event_id of a conversation: %s", error)

    def _remember(self, conversation_id: str, event_id: int) -> None:
        if event_id > self._last.get(conversation_id, 0):
            self._last[conversation_id] = event_id
        self._last.move_to_end(conversation_id)
        if len(self._last) > _CACHED_CONVERSATIONS:
            self._last.popitem(last=False)

    # --- reading ------------------------------------------------------------------------------------

    def subscribe(
        self, conversation_id: str, after_event_id: int
    ) -> AbstractAsyncContextManager[AsyncIterator[FeedEvent]]:
        async def check() -> None:
            if self._closed:  # its iterator ends at once; the client may be closed already
                return
            try:
                await self._follow()  # on before the store is read, so nothing falls in between
                await self._check_gap(conversation_id, after_event_id)
            except DRIVER_ERRORS as error:
                raise store_unavailable("open a conversation feed", error) from error

        return self._guarded(self._fanout.follow(conversation_id, after_event_id, check))

    @asynccontextmanager
    async def _guarded(
        self, follow: AbstractAsyncContextManager[AsyncIterator[FeedEvent]]
    ) -> AsyncIterator[AsyncIterator[FeedEvent]]:
        async with follow as events:
            guarded = _store_errors(events)
            try:
                yield guarded
            finally:
                await guarded.aclose()

    async def _check_gap(self, conversation_id: str, after_event_id: int) -> None:
        """ResumeGap when events after `after_event_id` existed but are no longer kept.

        Events appended while this runs can make a read miss the next one and see a later one (queries are
        not snapshots): a gap is only a gap once it stays, re-read as the fan-out does (adapters/fanout.py)."""
        for delay in (*SETTLE_DELAYS, None):
            if await self._events.find_one(  # the common case, one index lookup
                {"conversation_id": conversation_id, "event_id": after_event_id + 1}, {"_id": 1}
            ):
                return
            oldest = await self._events.find_one(
                {"conversation_id": conversation_id, "event_id": {"$gt": after_event_id}},
                {"event_id": 1},
                sort=[("event_id", ASCENDING)],
            )
            if oldest is None:
                break
            if int(oldest["event_id"]) == after_event_id + 1:
                return
            if delay is None:
                raise ResumeGap(after_event_id, int(oldest["event_id"]))
            await asyncio.sleep(delay)
        newest = await self._newest(conversation_id, 0)  # none kept after it: all pruned, or none yet
        if after_event_id < newest:
            raise ResumeGap(after_event_id, newest + 1)

    @store_operation("read the newest conversation event")
    async def last_event_id(self, conversation_id: str) -> int:
        newest = await self._newest(conversation_id, self._last.get(conversation_id, 0))
        if newest:
            self._remember(conversation_id, newest)
        return newest

    async def _read(self, conversation_id: str, after: int, limit: int) -> list[FeedEvent]:
        # A range on event_id, not sort + limit: the embedded server examines every match (docs/secantusdb.md).
        cursor = self._events.find(
            {"conversation_id": conversation_id, "event_id": {"$gt": after, "$lte": after + limit}},
            sort=[("event_id", ASCENDING)],
        )
        page = [_event(document) async for document in cursor]
        if page:
            self._remember(conversation_id, page[-1].event_id)
        return page

    # --- following other processes ---------------------------------------------------------------------

    async def _follow(self) -> None:
        """Start the change stream (or polling) once, and wait until it is on."""
        if self._closed:
            return
        if self._following is None:
            self._following = asyncio.get_running_loop().create_future()
            self._follower = asyncio.create_task(self._run_follower(self._following))
            self._follower.add_done_callback(_log_failure)
        await asyncio.shield(self._following)

    async def _run_follower(self, ready: asyncio.Future[None]) -> None:
        try:
            stream = await self._events.watch(self._changes())
        except OperationFailure as error:
            self.mode = "polling"
            log.info(
                "conversation feed: the server has no change streams (%s); polling every %.2f s",
                error.code,
                self._poll_interval,
            )
            ready.set_result(None)
            await self._poll()
            return
        except PyMongoError as error:  # the server is not reachable now: the next subscription tries again
            self._following = None
            ready.set_exception(error)
            return
        except asyncio.CancelledError:  # closed while opening
            ready.set_result(None)
            raise
        self.mode = "change stream"
        log.info("conversation feed: other processes' events arrive through a MongoDB change stream")
        ready.set_result(None)
        await self._watch(stream)

    def _changes(self) -> list[Document]:
        """The change stream's pipeline: other writers' inserts only (this one's were delivered on append, and
        echoing them back cost every append a second decode here and a send from the server)."""
        return [{"$match": {"operationType": "insert", "fullDocument.writer": {"$ne": self._writer}}}]

    async def _watch(self, stream: AsyncChangeStream[Document]) -> None:
        token = None
        failures = 0
        while True:
            try:
                async with stream:
                    async for change in stream:
                        token = stream.resume_token
                        failures = 0
                        self._arrived(change.get("fullDocument"))
            except PyMongoError as error:
                delay = _RETRY_DELAYS[min(failures, len(_RETRY_DELAYS) - 1)]
                failures += 1
                log.warning("conversation feed: change stream failed (%s); reopening in %.2f s", error, delay)
                await asyncio.sleep(delay)
            while True:  # reopen, from the token when the server still has it
                try:
                    stream = await self._events.watch(self._changes(), resume_after=token)
                    break
                except OperationFailure as error:
                    if token is None:
                        raise
                    log.warning("conversation feed: cannot resume the change stream (%s); re-reading", error)
                    token = None
                    stream = await self._events.watch(self._changes())
                    self._fanout.resync_all()
                    break
                except PyMongoError as error:
                    delay = _RETRY_DELAYS[min(failures, len(_RETRY_DELAYS) - 1)]
                    failures += 1
                    log.warning("conversation feed: cannot reopen the change stream (%s)", error)
                    await asyncio.sleep(delay)

    async def _poll(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self._poll_interval)
            # From the newest event seen here (published, appended or read), not from 0 on every round.
            followed = [(c, max(p, self._last.get(c, 0))) for c, p in self._fanout.conversations.items()]
            try:
                for start in range(0, len(followed), 100):
                    chunk = followed[start : start + 100]
                    clauses = [{"conversation_id": c, "event_id": {"$gt": last}} for c, last in chunk]
                    cursor = self._events.find({"$or": clauses}, sort=[("event_id", ASCENDING)])
                    async for document in cursor:
                        self._arrived(document)
                failures = 0
            except PyMongoError as error:
                failures += 1
                log.warning("conversation feed: polling failed (%s)", error)
                await asyncio.sleep(_RETRY_DELAYS[min(failures, len(_RETRY_DELAYS) - 1)])

    def _arrived(self, document: Document | None) -> None:
        """An event another process (or this one) stored: to the subscribers here, if any."""
        try:
            event = _event(document or {})
        except (KeyError, TypeError, ValueError, AttributeError):  # not written by this adapter: skip it
            log.warning("conversation feed: skipped a malformed %s document", EVENTS)
            return
        self._remember(event.conversation_id, event.event_id)
        self._fanout.publish(event)

    async def close(self) -> None:
        self._closed = True
        self._fanout.close()
        if self._head_writes:  # the client closes after this: let the floors in flight land
            await asyncio.wait(set(self._head_writes), timeout=2)
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._follower
            self._follower = None


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("conversation feed: stopped following other processes: %r", error)


async def _store_errors(events: AsyncIterator[FeedEvent]) -> AsyncGenerator[FeedEvent, None]:
    try:
        async for event in events:
            yield event
    except DRIVER_ERRORS as error:
        raise store_unavailable("read a conversation feed", error) from error


def _event(document: Document) -> FeedEvent:
    created = document["created_at"]
    created = created.replace(tzinfo=UTC) if created.tzinfo is None else created.astimezone(UTC)
    return FeedEvent(
        document["conversation_id"], int(document["event_id"]), document["type"], document["data"], created
    )
