//! Keyed lanes: parallel within one partition or queue, in order per key.
//!
//! A partition handled in order runs one message at a time, so a handler that waits 1 ms caps
//! the partition at 1 000 messages a second. Most consumers only need order **per key** (per
//! account, per order id). [`run_in_lanes`] runs up to `lanes` messages at once, never two with
//! the same key, and starts the messages of one key in the order given. A message without a key
//! has no order to keep with any other.
//!
//! Servers use it with a settlement tracker that only commits contiguous finished positions
//! ([`OffsetTracker`](crate::OffsetTracker)), so a crash redelivers what was not finished and
//! nothing after the first unfinished message is committed. Which key a message has is the
//! server's choice, documented with it: the broker's native key where it has one (Kafka: the
//! record key), otherwise the value of the [`LANE_KEY_HEADER`] header.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

/// The header that gives a message its lane key on brokers without a native key (the memory
/// server, and any broker whose messages carry no key): two messages whose `amgi-lane-key`
/// values are equal never run at once and run in order; a message without the header (and
/// without a native key) has no order to keep with any other. Servers with a native key
/// (Kafka's record key) use that first.
///
/// ```
/// use amgi_core::{Headers, MessageSend};
///
/// let message = MessageSend::new("orders")
///     .headers(Headers::new().with(amgi_server::LANE_KEY_HEADER, "account-42"));
/// assert_eq!(message.headers.get(b"amgi-lane-key").unwrap(), "account-42");
/// ```
pub const LANE_KEY_HEADER: &str = "amgi-lane-key";

/// Runs `run` on every item, up to `lanes` at once (0 counts as 1), never two items with the
/// same key at once, items of one key in the order given; `done` gets each result as it
/// completes. Items whose key is busy do not hold back items of other keys behind them.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use amgi_server::run_in_lanes;
///
/// let items = vec![("a", 1), ("b", 1), ("a", 2), ("b", 2)];
/// let mut finished = Vec::new();
/// run_in_lanes(items, 8, |(key, _)| Some(*key), |item| async move { item }, |item| finished.push(item)).await;
/// let a: Vec<_> = finished.iter().filter(|(k, _)| *k == "a").map(|(_, n)| *n).collect();
/// assert_eq!(a, [1, 2]);
/// # });
/// ```
pub async fn run_in_lanes<T, K, R, Fut>(
    items: impl IntoIterator<Item = T>,
    lanes: usize,
    key: impl Fn(&T) -> Option<K>,
    mut run: impl FnMut(T) -> Fut,
    mut done: impl FnMut(R),
) where
    K: Eq + Hash + Clone,
    Fut: Future<Output = R>,
{
    let lanes = lanes.max(1);
    let mut waiting: VecDeque<(Option<K>, T)> =
        items.into_iter().map(|item| (key(&item), item)).collect();
    let mut busy: HashSet<K> = HashSet::new();
    // Keys of waiting items passed over in one scan: a later item of such a key must wait too.
    let mut passed: HashSet<K> = HashSet::new();
    let mut running = FuturesUnordered::new();
    loop {
        let mut index = 0;
        passed.clear();
        while index < waiting.len() && running.len() < lanes {
            let free = waiting[index]
                .0
                .as_ref()
                .is_none_or(|key| !busy.contains(key) && !passed.contains(key));
            if free {
                let Some((key, item)) = waiting.remove(index) else {
                    break; // cannot happen: `index < waiting.len()`
                };
                if let Some(key) = &key {
                    busy.insert(key.clone());
                }
                let future = run(item);
                running.push(async move { (key, future.await) });
            } else {
                if let Some(key) = &waiting[index].0 {
                    passed.insert(key.clone());
                }
                index += 1;
            }
        }
        // With nothing running every key is free, so the scan above started something unless
        // nothing waits: `None` means all is done.
        let Some((key, result)) = running.next().await else {
            return;
        };
        if let Some(key) = key {
            busy.remove(&key);
        }
        done(result);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn keys_run_in_order_and_never_together() {
        // Key i % 3; each item takes a time that would reorder them if run freely.
        let items: Vec<(u32, u64)> = (0..30).map(|i| (i % 3, 30 - u64::from(i))).collect();
        let running = Cell::new(0_usize);
        let peak = Cell::new(0_usize);
        let active: std::cell::RefCell<HashSet<u32>> = std::cell::RefCell::default();
        let mut finished = Vec::new();
        run_in_lanes(
            items.iter().copied().enumerate(),
            8,
            |(_, (key, _))| Some(*key),
            |(index, (key, millis))| {
                let (running, peak, active) = (&running, &peak, &active);
                async move {
                    assert!(
                        active.borrow_mut().insert(key),
                        "two items of key {key} at once"
                    );
                    running.set(running.get() + 1);
                    peak.set(peak.get().max(running.get()));
                    tokio::time::sleep(Duration::from_millis(millis)).await;
                    running.set(running.get() - 1);
                    active.borrow_mut().remove(&key);
                    (key, index)
                }
            },
            |result| finished.push(result),
        )
        .await;
        assert_eq!(finished.len(), 30);
        for key in 0..3 {
            let order: Vec<_> = finished
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, i)| *i)
                .collect();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(order, sorted, "key {key} kept its order");
        }
        assert_eq!(peak.get(), 3, "three keys, so three at once");
    }

    #[tokio::test(start_paused = true)]
    async fn distinct_keys_fill_every_lane() {
        let running = Cell::new(0_usize);
        let peak = Cell::new(0_usize);
        let started = tokio::time::Instant::now();
        run_in_lanes(
            0..64_u32,
            16,
            |i| Some(*i),
            |_| {
                let (running, peak) = (&running, &peak);
                async move {
                    running.set(running.get() + 1);
                    peak.set(peak.get().max(running.get()));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    running.set(running.get() - 1);
                }
            },
            |()| {},
        )
        .await;
        assert_eq!(peak.get(), 16);
        // Four rounds of 10 ms on the paused clock.
        assert_eq!(started.elapsed(), Duration::from_millis(40));
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_key_does_not_block_other_keys() {
        // a(100 ms), a, b, c: b and c run while the second `a` waits.
        let items = vec![("a", 100), ("a", 1), ("b", 1), ("c", 1)];
        let mut finished = Vec::new();
        run_in_lanes(
            items,
            4,
            |(key, _)| Some(*key),
            |(key, millis)| async move {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                key
            },
            |key| finished.push(key),
        )
        .await;
        assert_eq!(finished, ["b", "c", "a", "a"]);
    }

    #[tokio::test]
    async fn items_without_a_key_are_independent() {
        let mut finished = 0;
        run_in_lanes(0..5, 2, |_| None::<u8>, |_| async {}, |()| finished += 1).await;
        assert_eq!(finished, 5);
    }
}
