//! The fetch loop of one stream: this consumer's pending entries, then new ones, entries
//! claimed from dead consumers, each batch settled (`XACK`, in-process redelivery, dead
//! letter) before the next read, through reconnects.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, IncomingMessage};
use amgi_core::extension::NackRetrySupport;
use amgi_core::{Application, MessageScope, StateMap};
use amgi_server::{
    DeadLetterOrigin, LANE_KEY_HEADER, Settlement, StopSignal, dead_letter_headers, run_in_lanes,
};
use bytes::Bytes;
use redis::aio::ConnectionManager;
use tokio::time::Instant;

use crate::connection::{self, Outage};
use crate::entry::{self, Entry};
use crate::publisher::xadd;
use crate::{RedisConfig, STREAM_ID_HEADER};

/// Why a read failed.
enum Failure {
    /// Redis answered with an error, or could not be reached.
    Redis(redis::RedisError),
    /// Redis answered something this server does not understand.
    Reply(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis(error) => error.fmt(f),
            Self::Reply(reply) => write!(f, "unexpected reply: {reply}"),
        }
    }
}

impl From<redis::RedisError> for Failure {
    fn from(error: redis::RedisError) -> Self {
        Self::Redis(error)
    }
}

/// An entry on its way through the application.
struct Pending {
    id: String,
    /// The message, until a delivery hands it to the application; read again from the stream
    /// (`XRANGE`) when it is needed after that (a redelivery, a dead letter), so the common
    /// path (delivered once, acked) never copies it.
    message: Option<IncomingMessage>,
    /// Deliveries so far that count (nacked ones, and those Redis counted before this read:
    /// deliveries to a consumer that stopped before settling them).
    deliveries: u32,
}

/// When and from where the next `XAUTOCLAIM` scans the group's pending entries.
struct Claim {
    idle: Duration,
    cursor: String,
    next: Instant,
}

impl Claim {
    /// How long after a complete scan the next one starts.
    fn interval(&self) -> Duration {
        (self.idle / 2).clamp(Duration::from_millis(10), Duration::from_secs(30))
    }
}

/// The fetch loop of one stream.
pub(crate) struct Consumer<A> {
    pub(crate) dispatcher: Arc<BatchDispatcher<A>>,
    pub(crate) stream: String,
    pub(crate) config: Arc<RedisConfig>,
    pub(crate) commands: ConnectionManager,
    pub(crate) state: StateMap,
    pub(crate) stop: Arc<StopSignal>,
    pub(crate) url: String,
}

impl<A: Application> Consumer<A> {
    /// Reads this consumer's pending entries (from id `0` on), then new ones (`>`), claiming
    /// entries idle on other consumers in between, one batch per reply, each handled to the
    /// end before the next read, until the server stops. After a failed read (Redis went
    /// away) it waits, reconnects and reads its pending entries again first.
    pub(crate) async fn run(self, mut reader: ConnectionManager) {
        let mut history = Some("0".to_owned());
        let mut outage = Outage::new(format!("stream {}", self.stream), self.url.clone());
        let mut claim = self.config.claim_idle.map(|idle| Claim {
            idle,
            cursor: "0-0".to_owned(),
            next: Instant::now(),
        });
        // Entries handled and acked by the application whose `XACK` goes out together with
        // the next read: the two round trips overlap.
        let mut acked: Vec<String> = Vec::new();
        loop {
            let due = history.is_none() && claim.as_ref().is_some_and(|c| Instant::now() >= c.next);
            let claiming = claim.as_mut().filter(|_| due);
            let was_claim = claiming.is_some();
            let acking = self.ack(std::mem::take(&mut acked));
            let result = if let Some(claim) = claiming {
                let claimed = self.stop.run_until_stopped(self.autoclaim(claim));
                match tokio::join!(acking, claimed).1 {
                    Some(result) => result.map(|entries| (entries, true)),
                    None => return,
                }
            } else {
                let read = self
                    .stop
                    .run_until_stopped(self.read(&mut reader, history.as_deref()));
                match tokio::join!(acking, read).1 {
                    Some(result) => result.map(|entries| (entries, history.is_some())),
                    None => return,
                }
            };
            let (entries, counted_by_redis) = match result {
                Ok(read) => read,
                Err(failure) => {
                    if !self.recover(&failure, &mut outage).await {
                        return;
                    }
                    history = Some("0".to_owned());
                    continue;
                }
            };
            outage.succeeded();
            if !was_claim && let Some(from) = &mut history {
                match entries.last() {
                    Some(last) => last.id.clone_into(from),
                    None => history = None, // every pending entry was read: new ones now
                }
            }
            let finished;
            (finished, acked) = self.deliver(entries, counted_by_redis).await;
            if !finished {
                self.ack(acked).await;
                return;
            }
        }
    }

    /// After a failed command: recreates the group when Redis lost it, otherwise logs the
    /// outage and waits. `false` when the server stopped meanwhile.
    async fn recover(&self, failure: &Failure, outage: &mut Outage) -> bool {
        if let Failure::Redis(error) = failure
            && connection::is_no_group(error)
        {
            tracing::warn!(stream = %self.stream, group = %self.config.group,
                "the consumer group is gone (Redis restarted without persistence?): creating it");
            match connection::create_group(self.commands.clone(), &self.stream, &self.config).await
            {
                Ok(()) => return true,
                Err(error) => return outage.failed(error.to_string(), &self.stop).await,
            }
        }
        outage.failed(failure.to_string(), &self.stop).await
    }

    /// One `XREADGROUP`: the pending entries after `history`, or new entries (blocking).
    async fn read(
        &self,
        reader: &mut ConnectionManager,
        history: Option<&str>,
    ) -> Result<Vec<Entry>, Failure> {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(&self.config.group)
            .arg(&self.config.consumer)
            .arg("COUNT")
            .arg(self.config.batch_size);
        if history.is_none() {
            let block = u64::try_from(self.config.block.as_millis()).unwrap_or(u64::MAX);
            command.arg("BLOCK").arg(block.max(1));
        }
        command
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(history.unwrap_or(">"));
        let reply: redis::Value = command.query_async(reader).await?;
        entry::parse_read_reply(reply).map_err(Failure::Reply)
    }

    /// One step of the `XAUTOCLAIM` scan: entries idle longer than the claim-idle time on any
    /// consumer of the group become this consumer's.
    async fn autoclaim(&self, claim: &mut Claim) -> Result<Vec<Entry>, Failure> {
        let idle = u64::try_from(claim.idle.as_millis()).unwrap_or(u64::MAX);
        let mut connection = self.commands.clone();
        let reply: redis::Value = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(&self.config.group)
            .arg(&self.config.consumer)
            .arg(idle)
            .arg(&claim.cursor)
            .arg("COUNT")
            .arg(self.config.batch_size)
            .query_async(&mut connection)
            .await?;
        let (cursor, entries) = entry::parse_autoclaim_reply(reply).map_err(Failure::Reply)?;
        if cursor == "0-0" {
            claim.next = Instant::now() + claim.interval();
        }
        claim.cursor = cursor;
        if !entries.is_empty() {
            tracing::info!(stream = %self.stream, claimed = entries.len(), idle = ?claim.idle,
                "claimed entries left pending by another consumer");
        }
        Ok(entries)
    }

    /// Hands one read's entries to the application until each is settled. `counted_by_redis`:
    /// the entries were delivered before (pending or claimed), so their delivery counts come
    /// from `XPENDING`, and those delivered `max_deliveries` times already are dead-lettered
    /// without another delivery. Returns `false` when the server stopped first, and the ids of
    /// the entries the application acked that are still to be `XACK`ed.
    async fn deliver(&self, entries: Vec<Entry>, counted_by_redis: bool) -> (bool, Vec<String>) {
        let mut batch = Vec::with_capacity(entries.len());
        let mut deleted = Vec::new();
        for Entry { id, fields } in entries {
            match fields {
                Some(fields) => batch.push(Pending {
                    message: Some(Entry::message(&self.stream, &id, fields)),
                    id,
                    deliveries: 0,
                }),
                None => deleted.push(id),
            }
        }
        if !deleted.is_empty() {
            tracing::warn!(stream = %self.stream, ids = ?deleted,
                "pending entries were deleted from the stream: acked without delivery");
            self.ack(deleted).await;
        }
        if counted_by_redis && !batch.is_empty() {
            self.count_deliveries(&mut batch).await;
            let max = self.config.retry.max_deliveries;
            let (exhausted, rest): (Vec<_>, Vec<_>) =
                batch.into_iter().partition(|entry| entry.deliveries >= max);
            for entry in exhausted {
                let reason = format!(
                    "delivered {} times without being settled (the consumer stopped each time)",
                    entry.deliveries
                );
                self.dead_letter(entry, &reason).await;
            }
            batch = rest;
        }
        match self.config.lanes {
            None => self.handle(batch).await,
            Some(lanes) => {
                let (mut finished, mut acked) = (true, Vec::new());
                run_in_lanes(
                    batch,
                    lanes,
                    |entry| {
                        let message = entry.message.as_ref()?;
                        message.headers.get(LANE_KEY_HEADER.as_bytes()).cloned()
                    },
                    |entry: Pending| self.handle(vec![entry]),
                    |(done, ids): (bool, Vec<String>)| {
                        finished &= done;
                        acked.extend(ids);
                    },
                )
                .await;
                (finished, acked)
            }
        }
    }

    /// Sets each entry's deliveries so far from Redis's delivery counts (`XPENDING`), which
    /// include the read just made. When they cannot be read the entries count from zero.
    async fn count_deliveries(&self, batch: &mut [Pending]) {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return;
        };
        let mut connection = self.commands.clone();
        let reply: redis::RedisResult<redis::Value> = redis::cmd("XPENDING")
            .arg(&self.stream)
            .arg(&self.config.group)
            .arg(&first.id)
            .arg(&last.id)
            .arg(batch.len())
            .arg(&self.config.consumer)
            .query_async(&mut connection)
            .await;
        let counts = match reply.map_err(|error| error.to_string()) {
            Ok(reply) => entry::parse_pending_counts(reply),
            Err(error) => Err(error),
        };
        match counts {
            Ok(counts) => {
                let counts: HashMap<_, _> = counts.into_iter().collect();
                for entry in batch {
                    let count = counts.get(&entry.id).copied().unwrap_or(1);
                    entry.deliveries = u32::try_from(count.saturating_sub(1)).unwrap_or(u32::MAX);
                }
            }
            Err(error) => tracing::warn!(stream = %self.stream, %error,
                "XPENDING failed: the delivery counts of re-read entries start from zero"),
        }
    }

    /// Runs `pending` until each entry is acked or dead-lettered; `false` when the server
    /// stopped first (what is left stays pending, never acked). The ids the application acked
    /// in the last round are returned, not yet `XACK`ed (earlier rounds' are, before the
    /// retry delay).
    async fn handle(&self, mut pending: Vec<Pending>) -> (bool, Vec<String>) {
        while !pending.is_empty() {
            let scope = MessageScope::new(self.stream.as_str())
                .ordered(true)
                .with_state(self.state.clone())
                .with_extension(NackRetrySupport);
            let messages = pending
                .iter_mut()
                .map(|entry| entry.message.take().unwrap_or_default())
                .collect();
            let report = self.dispatcher.dispatch(scope, messages).await;
            let (mut again, mut acked, mut delay) = (Vec::new(), Vec::new(), Duration::ZERO);
            for (mut entry, outcome) in pending.into_iter().zip(report.outcomes) {
                if !outcome.is_skipped() {
                    entry.deliveries += 1;
                }
                match self.config.retry.settle(outcome, entry.deliveries) {
                    Settlement::Ack => acked.push(entry.id),
                    Settlement::Redeliver { delay: after, .. } => {
                        if self.reload(&mut entry, &mut acked).await {
                            delay = delay.max(after);
                            again.push(entry);
                        }
                    }
                    Settlement::DeadLetter(reason) => self.dead_letter(entry, &reason).await,
                }
            }
            if again.is_empty() {
                return (true, acked);
            }
            self.ack(acked).await;
            // Order holds: what is unfinished comes back together, after the longest delay.
            if self
                .stop
                .run_until_stopped(tokio::time::sleep(delay))
                .await
                .is_none()
            {
                return (false, Vec::new());
            }
            self.record_redelivery(&again).await;
            pending = again;
        }
        (true, Vec::new())
    }

    /// Before redelivering in process: sets each entry's delivery count in Redis to the
    /// deliveries made plus this one (`XCLAIM … RETRYCOUNT n JUSTID`), so that a consumer that
    /// stops during it counts it after a restart.
    async fn record_redelivery(&self, entries: &[Pending]) {
        for entry in entries {
            let mut connection = self.commands.clone();
            let recorded: redis::RedisResult<redis::Value> = redis::cmd("XCLAIM")
                .arg(&self.stream)
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg(0)
                .arg(&entry.id)
                .arg("RETRYCOUNT")
                .arg(entry.deliveries + 1)
                .arg("JUSTID")
                .query_async(&mut connection)
                .await;
            if let Err(error) = recorded {
                tracing::debug!(stream = %self.stream, id = %entry.id, %error,
                    "delivery count not recorded in Redis");
            }
        }
    }

    /// `XACK stream group id …` (nothing when `ids` is empty); on failure the entries stay
    /// pending (read again on restart).
    async fn ack(&self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let mut connection = self.commands.clone();
        let acked: redis::RedisResult<i64> = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.config.group)
            .arg(&ids)
            .query_async(&mut connection)
            .await;
        if let Err(error) = acked {
            tracing::error!(stream = %self.stream, ?ids, %error,
                "XACK failed: the entries stay pending and are delivered again");
        }
    }

    /// Gives `entry` its message again, read from the stream (`XRANGE id id`) after a delivery
    /// took it; `false` when that fails: the entry was deleted from the stream meanwhile (its
    /// id is pushed to `acked`: there is nothing left to deliver), or Redis could not be asked
    /// (it stays pending, delivered again after a reconnect or a claim).
    async fn reload(&self, entry: &mut Pending, acked: &mut Vec<String>) -> bool {
        if entry.message.is_some() {
            return true;
        }
        let mut connection = self.commands.clone();
        let reply: redis::RedisResult<redis::Value> = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg(&entry.id)
            .arg(&entry.id)
            .query_async(&mut connection)
            .await;
        let read = reply
            .map_err(|error| error.to_string())
            .and_then(entry::parse_range_reply);
        match read {
            Ok(Some(fields)) => {
                entry.message = Some(Entry::message(&self.stream, &entry.id, fields));
                true
            }
            Ok(None) => {
                tracing::warn!(stream = %self.stream, id = %entry.id,
                    "the entry was deleted from the stream while being handled: acked");
                acked.push(std::mem::take(&mut entry.id));
                false
            }
            Err(error) => {
                tracing::error!(stream = %self.stream, id = %entry.id, %error,
                    "cannot read the entry again: it stays pending");
                false
            }
        }
    }

    /// `XADD` to the dead-letter stream with the dead-letter headers, then `XACK`. If the
    /// dead letter is not written the entry is not acked: it stays pending.
    async fn dead_letter(&self, mut entry: Pending, reason: &str) {
        let mut gone = Vec::new();
        if !self.reload(&mut entry, &mut gone).await {
            self.ack(gone).await;
            return;
        }
        let Some(message) = entry.message.take() else {
            return; // cannot happen: reloaded
        };
        let stream = self.stream.as_str();
        let Some(to) = self.config.dead_letter.address_for(stream) else {
            tracing::error!(stream, id = %entry.id, reason, "dead-lettering is disabled: dropped");
            self.ack(vec![entry.id]).await;
            return;
        };
        let origin = DeadLetterOrigin {
            reason,
            deliveries: entry.deliveries,
            address: stream,
        };
        let extra = [(STREAM_ID_HEADER, entry.id.clone())];
        let headers = dead_letter_headers(&message.headers, origin, &extra);
        let fields: Vec<(Bytes, Bytes)> = entry::fields(&headers, message.payload.as_ref());
        match xadd(self.commands.clone(), &to, None, &fields).await {
            Ok(()) => {
                tracing::warn!(stream, id = %entry.id, dead_letter_stream = %to, reason,
                    "entry dead-lettered");
                self.ack(vec![entry.id]).await;
            }
            Err(error) => tracing::error!(stream, id = %entry.id, dead_letter_stream = %to,
                %error, "dead letter not written: the entry stays pending"),
        }
    }
}
