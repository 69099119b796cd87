//! [`Batcher`]: coalesces single calls (a delete, a send) into SQS batch calls of at most 10
//! entries (and at most a byte budget), flushed when full or after a short linger.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

/// Most entries of one SQS batch call.
pub(crate) const MAX_ENTRIES: usize = 10;

/// One batch call: the entries of one queue, answered one result per entry, in order.
pub(crate) trait Flush: Send + Sync + 'static {
    /// An entry.
    type Item: Send + 'static;

    /// Most bytes of one call.
    fn max_bytes(&self) -> usize {
        usize::MAX
    }

    /// The bytes `item` counts for.
    fn size(&self, _item: &Self::Item) -> usize {
        0
    }

    /// Makes the call for `items` of `queue` (a queue URL).
    fn flush(
        &self,
        queue: Arc<str>,
        items: Vec<Self::Item>,
    ) -> BoxFuture<'static, Vec<Result<(), String>>>;
}

struct Request<T> {
    queue: Arc<str>,
    item: T,
    done: oneshot::Sender<Result<(), String>>,
}

/// Coalesces single entries into batch calls made by `F`.
pub(crate) struct Batcher<F: Flush> {
    requests: Mutex<Option<mpsc::UnboundedSender<Request<F::Item>>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl<F: Flush> Batcher<F> {
    /// A batcher whose calls wait up to `linger` for more entries.
    pub(crate) fn new(flush: F, linger: Duration) -> Self {
        let (requests, receiver) = mpsc::unbounded_channel();
        let worker = tokio::spawn(work(Arc::new(flush), linger, receiver));
        Self {
            requests: Mutex::new(Some(requests)),
            worker: Mutex::new(Some(worker)),
        }
    }

    /// Queues `item` for `queue` and waits for its result.
    pub(crate) async fn submit(&self, queue: Arc<str>, item: F::Item) -> Result<(), String> {
        let (done, result) = oneshot::channel();
        let sender = self.requests.lock().ok().and_then(|s| s.clone());
        let Some(sender) = sender else {
            return Err("the server is closed".to_owned());
        };
        if sender.send(Request { queue, item, done }).is_err() {
            return Err("the server is closed".to_owned());
        }
        result
            .await
            .unwrap_or_else(|_| Err("the server stopped before the call".to_owned()))
    }

    /// Flushes what is queued and stops taking entries.
    pub(crate) async fn close(&self) {
        self.requests.lock().ok().and_then(|mut s| s.take());
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(worker) = worker {
            let _ = worker.await;
        }
    }
}

impl<F: Flush> Drop for Batcher<F> {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.get_mut().ok().and_then(Option::take) {
            worker.abort();
        }
    }
}

/// Entries of one queue waiting for their call.
struct Pending<T> {
    requests: Vec<Request<T>>,
    bytes: usize,
}

async fn work<F: Flush>(
    flush: Arc<F>,
    linger: Duration,
    mut receiver: mpsc::UnboundedReceiver<Request<F::Item>>,
) {
    let mut calls = JoinSet::new();
    let mut pending: HashMap<Arc<str>, Pending<F::Item>> = HashMap::new();
    let mut open = true;
    while open {
        let Some(first) = receiver.recv().await else {
            break;
        };
        add(&flush, &mut pending, &mut calls, first);
        let window = tokio::time::sleep(linger);
        tokio::pin!(window);
        loop {
            tokio::select! {
                biased;
                request = receiver.recv() => {
                    let Some(request) = request else {
                        open = false;
                        break;
                    };
                    add(&flush, &mut pending, &mut calls, request);
                }
                () = &mut window => break,
            }
        }
        for (queue, batch) in pending.drain() {
            call(&flush, &mut calls, queue, batch.requests);
        }
        // Finished calls are reaped as we go, so the set does not grow.
        while calls.try_join_next().is_some() {}
    }
    while calls.join_next().await.is_some() {}
}

/// Adds `request` to its queue's batch, first making the call of a batch it would overflow,
/// then the call of a batch it fills.
fn add<F: Flush>(
    flush: &Arc<F>,
    pending: &mut HashMap<Arc<str>, Pending<F::Item>>,
    calls: &mut JoinSet<()>,
    request: Request<F::Item>,
) {
    let size = flush.size(&request.item);
    let queue = Arc::clone(&request.queue);
    let batch = pending.entry(Arc::clone(&queue)).or_insert(Pending {
        requests: Vec::new(),
        bytes: 0,
    });
    if !batch.requests.is_empty() && batch.bytes + size > flush.max_bytes() {
        let full = std::mem::take(&mut batch.requests);
        batch.bytes = 0;
        call(flush, calls, Arc::clone(&queue), full);
    }
    batch.bytes += size;
    batch.requests.push(request);
    if batch.requests.len() >= MAX_ENTRIES {
        let full = std::mem::take(&mut batch.requests);
        batch.bytes = 0;
        call(flush, calls, queue, full);
    }
}

/// Makes one call in the background and answers each request.
fn call<F: Flush>(
    flush: &Arc<F>,
    calls: &mut JoinSet<()>,
    queue: Arc<str>,
    requests: Vec<Request<F::Item>>,
) {
    if requests.is_empty() {
        return;
    }
    let (items, answers): (Vec<_>, Vec<_>) = requests
        .into_iter()
        .map(|request| (request.item, request.done))
        .unzip();
    let made = flush.flush(queue, items);
    calls.spawn(async move {
        let results = made.await;
        let mut results = results.into_iter();
        for answer in answers {
            let result = results
                .next()
                .unwrap_or_else(|| Err("no result for this entry".to_owned()));
            let _ = answer.send(result);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts calls and their sizes; refuses items equal to 13.
    #[derive(Default)]
    struct Counting {
        calls: Arc<Mutex<Vec<usize>>>,
    }

    impl Flush for Counting {
        type Item = u32;

        fn max_bytes(&self) -> usize {
            100
        }

        fn size(&self, item: &u32) -> usize {
            *item as usize
        }

        fn flush(
            &self,
            _: Arc<str>,
            items: Vec<u32>,
        ) -> BoxFuture<'static, Vec<Result<(), String>>> {
            self.calls.lock().unwrap().push(items.len());
            Box::pin(async move {
                items
                    .into_iter()
                    .map(|i| if i == 13 { Err("13".into()) } else { Ok(()) })
                    .collect()
            })
        }
    }

    #[tokio::test]
    async fn entries_share_calls_of_ten_at_most() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let batcher = Arc::new(Batcher::new(
            Counting {
                calls: Arc::clone(&calls),
            },
            Duration::from_millis(50),
        ));
        let queue: Arc<str> = Arc::from("q");
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        for i in 0..25 {
            let (batcher, queue, done) =
                (Arc::clone(&batcher), Arc::clone(&queue), Arc::clone(&done));
            tasks.spawn(async move {
                let result = batcher.submit(queue, 1 + (i % 2)).await;
                assert_eq!(result, Ok(()));
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
        assert_eq!(done.load(Ordering::Relaxed), 25);
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.iter().sum::<usize>(), 25);
        assert!(calls.iter().all(|&n| n <= MAX_ENTRIES), "{calls:?}");
        assert!(calls.len() <= 4, "{calls:?}");
    }

    #[tokio::test]
    async fn the_byte_budget_splits_calls_and_failures_are_per_entry() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let batcher = Arc::new(Batcher::new(
            Counting {
                calls: Arc::clone(&calls),
            },
            Duration::from_millis(50),
        ));
        let queue: Arc<str> = Arc::from("q");
        let (a, b, c) = tokio::join!(
            batcher.submit(Arc::clone(&queue), 60),
            batcher.submit(Arc::clone(&queue), 60),
            batcher.submit(Arc::clone(&queue), 13),
        );
        assert_eq!((a, b), (Ok(()), Ok(())));
        assert_eq!(c, Err("13".to_owned()));
        assert_eq!(calls.lock().unwrap().len(), 2);
        batcher.close().await;
        assert!(batcher.submit(queue, 1).await.is_err());
    }
}
