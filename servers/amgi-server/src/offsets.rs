//! [`OffsetTracker`]: settlement for brokers that commit a position (Kafka offsets, Redis stream
//! ids turned into sequence numbers): which offset of a partition may be committed: the one after the highest offset below which
//! every delivered message is finished (acked, or dead-lettered).
//!
//! Kafka commits a position, not a set of messages: committing `n` says "everything before `n`
//! is done". So a message that is still in progress, or was nacked and waits for its retry,
//! holds the position back even when later messages were acked. Offsets of one partition need
//! not be contiguous (compaction, transaction markers): the tracker only knows the offsets it
//! was given, in the order it was given them.

use std::collections::VecDeque;

/// Tracks the messages of one partition from delivery to completion.
///
/// ```
/// use amgi_server::OffsetTracker;
///
/// let mut tracker = OffsetTracker::new();
/// for offset in 10..13 {
///     tracker.track(offset);
/// }
/// assert_eq!(tracker.complete(11), None); // 10 is not finished: nothing to commit
/// assert_eq!(tracker.complete(10), Some(12)); // 10 and 11 are: commit 12
/// ```
#[derive(Debug, Default)]
pub struct OffsetTracker {
    /// Delivered offsets not yet below the commit position, ascending, with their completion.
    in_flight: VecDeque<(i64, bool)>,
    /// The next offset to commit, once anything completed.
    position: Option<i64>,
}

impl OffsetTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `offset` was delivered. Offsets must be given in ascending order; an offset
    /// not above the last one given is ignored (and reported as `false`).
    pub fn track(&mut self, offset: i64) -> bool {
        let last = self
            .in_flight
            .back()
            .map(|&(o, _)| o)
            .or(self.position.map(|p| p - 1));
        if last.is_some_and(|last| offset <= last) {
            return false;
        }
        self.in_flight.push_back((offset, false));
        true
    }

    /// Records that `offset` is finished and returns the new commit position if it moved.
    pub fn complete(&mut self, offset: i64) -> Option<i64> {
        // Usually the oldest message finishes first.
        let index = if self.in_flight.front().is_some_and(|&(o, _)| o == offset) {
            0
        } else {
            self.in_flight
                .binary_search_by_key(&offset, |&(o, _)| o)
                .ok()?
        };
        self.in_flight[index].1 = true;
        if index != 0 {
            return None;
        }
        while let Some(&(front, true)) = self.in_flight.front() {
            self.position = Some(front + 1);
            self.in_flight.pop_front();
        }
        self.position
    }

    /// The offset to commit: one past the highest offset with every earlier delivered message
    /// finished; `None` before anything finished.
    pub fn position(&self) -> Option<i64> {
        self.position
    }

    /// Number of delivered messages not yet below the commit position.
    pub fn pending(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::OffsetTracker;

    fn tracker(offsets: impl IntoIterator<Item = i64>) -> OffsetTracker {
        let mut tracker = OffsetTracker::new();
        for offset in offsets {
            assert!(tracker.track(offset));
        }
        tracker
    }

    #[test]
    fn nothing_finished_means_nothing_to_commit() {
        let tracker = tracker(0..5);
        assert_eq!(tracker.position(), None);
        assert_eq!(tracker.pending(), 5);
    }

    #[test]
    fn in_order_completion_moves_the_position_each_time() {
        let mut tracker = tracker(0..3);
        assert_eq!(tracker.complete(0), Some(1));
        assert_eq!(tracker.complete(1), Some(2));
        assert_eq!(tracker.complete(2), Some(3));
        assert_eq!(tracker.pending(), 0);
    }

    #[test]
    fn a_gap_holds_the_position_back() {
        let mut tracker = tracker(10..15);
        assert_eq!(tracker.complete(10), Some(11));
        // 11 is nacked (waiting for a retry); 12..15 are acked.
        for offset in 12..15 {
            assert_eq!(tracker.complete(offset), None);
        }
        assert_eq!(tracker.position(), Some(11), "never past the unfinished 11");
        // 11 finishes (acked on retry, or dead-lettered): everything up to 14 is done.
        assert_eq!(tracker.complete(11), Some(15));
        assert_eq!(tracker.pending(), 0);
    }

    #[test]
    fn out_of_order_completion_within_a_batch() {
        let mut tracker = tracker(0..4);
        assert_eq!(tracker.complete(3), None);
        assert_eq!(tracker.complete(1), None);
        assert_eq!(tracker.complete(0), Some(2));
        assert_eq!(tracker.complete(2), Some(4));
    }

    #[test]
    fn offsets_need_not_be_contiguous() {
        // Compacted topic: 3, 4 and 6 are gone.
        let mut tracker = tracker([1, 2, 5, 7]);
        assert_eq!(tracker.complete(1), Some(2));
        assert_eq!(tracker.complete(5), None);
        assert_eq!(tracker.complete(2), Some(6));
        assert_eq!(tracker.complete(7), Some(8));
    }

    #[test]
    fn unknown_and_repeated_offsets_change_nothing() {
        let mut tracker = tracker(0..2);
        assert_eq!(tracker.complete(9), None);
        assert_eq!(tracker.complete(0), Some(1));
        assert_eq!(tracker.complete(0), None, "already below the position");
        assert_eq!(tracker.position(), Some(1));
        assert!(
            !tracker.track(0),
            "a redelivered old offset is not tracked twice"
        );
        assert!(
            !tracker.track(1),
            "an offset already in flight is not tracked twice"
        );
        assert!(tracker.track(2));
    }

    #[test]
    fn position_survives_an_emptied_tracker() {
        let mut tracker = tracker(0..2);
        tracker.complete(0);
        tracker.complete(1);
        assert_eq!(tracker.position(), Some(2));
        assert!(!tracker.track(1));
        assert!(tracker.track(5));
        assert_eq!(tracker.position(), Some(2));
        assert_eq!(tracker.complete(5), Some(6));
    }
}
