//! The endpoint's tables with their timers kept in order, so that each message and each
//! timer costs O(log n) however many transactions and calls are alive.
//!
//! [`Timed`] is a map (the method names of `HashMap`, so the code using a table does not
//! change) that also keeps a binary heap of the entries' deadlines with lazy deletion:
//! every key handed out mutably (`get_mut`, `insert`, `values_mut`, …) is noted, and before
//! the heap is read, each noted entry's [`Deadline`] is asked again and pushed when it moved.
//! A heap entry whose ticket no longer matches its slot (the key was removed, replaced or
//! rescheduled) is dropped when it reaches the top, and the heap is compacted when stale
//! entries outnumber live ones. [`CachedDeadline`] does the same for a structure with one
//! deadline that is expensive to compute (the registrar's next expiry).
//!
//! Reading the earliest deadline takes `&self` (the endpoint's `poll_timeout` does), so the
//! pending work sits behind a `RefCell`.

use std::borrow::Borrow;
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

/// What a table entry tells its timer queue.
pub(super) trait Deadline {
    /// When the entry next needs its timer handled, if ever.
    fn deadline(&self) -> Option<Instant>;

    /// True when the entry is done and only waits to be dropped: it is handed to the next
    /// timer run whatever the time (a transaction terminated without a timer left).
    fn is_finished(&self) -> bool {
        false
    }
}

/// Where a slot's current heap entry is: the entry is live only while both match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Scheduled {
    at: Instant,
    ticket: u64,
}

struct Slot<V> {
    value: V,
    scheduled: Cell<Option<Scheduled>>,
    /// In the queue's list of finished entries.
    listed_finished: Cell<bool>,
}

/// A heap entry, ordered earliest first (ties by ticket, that is by scheduling order).
struct Due<K> {
    at: Instant,
    ticket: u64,
    key: K,
}

impl<K> PartialEq for Due<K> {
    fn eq(&self, other: &Self) -> bool {
        self.ticket == other.ticket
    }
}

impl<K> Eq for Due<K> {}

impl<K> PartialOrd for Due<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Due<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reversed, so the top is the earliest.
        (other.at, other.ticket).cmp(&(self.at, self.ticket))
    }
}

struct Queue<K> {
    heap: BinaryHeap<Due<K>>,
    /// Keys that may have changed since the heap was last brought up to date.
    touched: Vec<K>,
    /// Keys of finished entries without a deadline: dropped at the next timer run.
    finished: Vec<K>,
    next_ticket: u64,
}

/// A map whose entries' deadlines are kept in a heap (see the module documentation).
pub(super) struct Timed<K, V> {
    slots: HashMap<K, Slot<V>>,
    queue: RefCell<Queue<K>>,
}

impl<K: Clone + Eq + Hash, V: Deadline> Default for Timed<K, V> {
    fn default() -> Self {
        Timed::new()
    }
}

// The whole `HashMap` vocabulary, also the parts the endpoint does not use today.
#[allow(dead_code)]
impl<K: Clone + Eq + Hash, V: Deadline> Timed<K, V> {
    pub(super) fn new() -> Self {
        Timed {
            slots: HashMap::new(),
            queue: RefCell::new(Queue {
                heap: BinaryHeap::new(),
                touched: Vec::new(),
                finished: Vec::new(),
                next_ticket: 1,
            }),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub(super) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slots.contains_key(key)
    }

    pub(super) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slots.get(key).map(|slot| &slot.value)
    }

    /// The entry, to change: its deadline is asked again before the heap is next read.
    pub(super) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (owned, _) = self.slots.get_key_value(key)?;
        let owned = owned.clone();
        self.touch(owned);
        self.slots.get_mut(key).map(|slot| &mut slot.value)
    }

    pub(super) fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.touch(key.clone());
        let slot = Slot {
            value,
            scheduled: Cell::new(None),
            listed_finished: Cell::new(false),
        };
        self.slots.insert(key, slot).map(|old| old.value)
    }

    /// Removes the entry; its heap entry goes stale and is dropped when reached.
    pub(super) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slots.remove(key).map(|slot| slot.value)
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &K> {
        self.slots.keys()
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.values().map(|slot| &slot.value)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().map(|(key, slot)| (key, &slot.value))
    }

    /// Every entry, to change (O(n): each one is rescheduled).
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.touch_all();
        self.slots.values_mut().map(|slot| &mut slot.value)
    }

    /// Every entry, to change (O(n): each one is rescheduled).
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.touch_all();
        self.slots
            .iter_mut()
            .map(|(key, slot)| (key, &mut slot.value))
    }

    /// Keeps the entries `keep` says yes to (O(n): each kept one is rescheduled).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.slots.retain(|key, slot| keep(key, &mut slot.value));
        self.touch_all();
    }

    /// The earliest deadline of all entries.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.refresh();
        let mut queue = self.queue.borrow_mut();
        while let Some(top) = queue.heap.peek() {
            if self.is_live(top) {
                return Some(top.at);
            }
            queue.heap.pop();
        }
        None
    }

    /// Takes out the keys whose deadline is at or before `now` (earliest first), and those of
    /// finished entries. Each is rescheduled from its new deadline at the next read, so the
    /// caller handles every one of them once, and may remove it.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<K> {
        self.refresh();
        let queue = self.queue.get_mut();
        let mut due = Vec::new();
        while let Some(top) = queue.heap.peek() {
            if top.at > now {
                break;
            }
            let top = queue.heap.pop().expect("peeked");
            if let Some(slot) = self.slots.get(&top.key) {
                if slot.scheduled.get() == Some(Scheduled::of(&top)) {
                    slot.scheduled.set(None);
                    due.push(top.key);
                }
            }
        }
        for key in std::mem::take(&mut queue.finished) {
            if let Some(slot) = self.slots.get(&key) {
                if slot.listed_finished.replace(false) && slot.value.is_finished() {
                    due.push(key);
                }
            }
        }
        queue.touched.extend(due.iter().cloned());
        due
    }

    fn is_live(&self, due: &Due<K>) -> bool {
        self.slots
            .get(&due.key)
            .is_some_and(|slot| slot.scheduled.get() == Some(Scheduled::of(due)))
    }

    fn touch(&mut self, key: K) {
        let queue = self.queue.get_mut();
        queue.touched.push(key);
        // Between timer reads the list only grows: keep it from outgrowing the table.
        if queue.touched.len() > 2 * self.slots.len() + 64 {
            self.refresh();
        }
    }

    fn touch_all(&mut self) {
        let queue = self.queue.get_mut();
        queue.touched.clear();
        queue.touched.extend(self.slots.keys().cloned());
    }

    /// Brings the heap up to date with the touched entries.
    fn refresh(&self) {
        let mut guard = self.queue.borrow_mut();
        let queue = &mut *guard;
        for key in queue.touched.drain(..) {
            let Some(slot) = self.slots.get(&key) else {
                continue;
            };
            let deadline = slot.value.deadline();
            if deadline.is_none() && slot.value.is_finished() && !slot.listed_finished.get() {
                slot.listed_finished.set(true);
                queue.finished.push(key.clone());
            }
            if deadline == slot.scheduled.get().map(|s| s.at) {
                continue;
            }
            match deadline {
                Some(at) => {
                    let ticket = queue.next_ticket;
                    queue.next_ticket += 1;
                    slot.scheduled.set(Some(Scheduled { at, ticket }));
                    queue.heap.push(Due { at, ticket, key });
                }
                None => slot.scheduled.set(None),
            }
        }
        if queue.heap.len() > 2 * self.slots.len() + 64 {
            queue.heap.retain(|due| {
                self.slots
                    .get(&due.key)
                    .is_some_and(|slot| slot.scheduled.get() == Some(Scheduled::of(due)))
            });
        }
        if queue.finished.len() > 2 * self.slots.len() + 64 {
            // Listed keys that were removed (or replaced) since: each live key is listed once.
            let slots = &self.slots;
            queue.finished.retain(|key| slots.contains_key(key));
        }
    }

    /// Heap entries, live and stale (for tests of the compaction).
    #[cfg(test)]
    fn heap_len(&self) -> usize {
        self.queue.borrow().heap.len()
    }
}

impl Scheduled {
    fn of<K>(due: &Due<K>) -> Scheduled {
        Scheduled {
            at: due.at,
            ticket: due.ticket,
        }
    }
}

/// A value with one deadline that is costly to compute: computed again only after the value
/// was borrowed mutably.
pub(super) struct CachedDeadline<T> {
    value: T,
    /// `None`: to compute; `Some(deadline)`: known.
    cached: Cell<Option<Option<Instant>>>,
}

impl<T: Deadline> CachedDeadline<T> {
    pub(super) fn new(value: T) -> Self {
        CachedDeadline {
            value,
            cached: Cell::new(None),
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if let Some(known) = self.cached.get() {
            return known;
        }
        let deadline = self.value.deadline();
        self.cached.set(Some(deadline));
        deadline
    }
}

impl<T> Deref for CachedDeadline<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for CachedDeadline<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.cached.set(None);
        &mut self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A timer entry whose deadline the test sets.
    struct Entry {
        at: Option<Instant>,
        finished: bool,
    }

    impl Deadline for Entry {
        fn deadline(&self) -> Option<Instant> {
            self.at
        }
        fn is_finished(&self) -> bool {
            self.finished
        }
    }

    fn entry(at: Instant) -> Entry {
        Entry {
            at: Some(at),
            finished: false,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn due_keys_come_out_earliest_first_and_only_when_due() {
        let t0 = Instant::now();
        let mut table = Timed::new();
        for (key, at) in [(3, 30), (1, 10), (5, 50), (2, 20), (4, 40)] {
            table.insert(key, entry(t0 + ms(at)));
        }
        assert_eq!(table.next_deadline(), Some(t0 + ms(10)));
        assert_eq!(table.take_due(t0 + ms(9)), Vec::<i32>::new());
        assert_eq!(table.take_due(t0 + ms(30)), vec![1, 2, 3]);
        // Taken keys are rescheduled from their (unchanged) deadline: still due.
        assert_eq!(table.next_deadline(), Some(t0 + ms(10)));
        for key in [1, 2, 3] {
            table.remove(&key);
        }
        assert_eq!(table.next_deadline(), Some(t0 + ms(40)));
        assert_eq!(table.take_due(t0 + ms(100)), vec![4, 5]);
    }

    #[test]
    fn a_removed_entry_never_comes_due() {
        let t0 = Instant::now();
        let mut table = Timed::new();
        table.insert("a", entry(t0 + ms(10)));
        table.insert("b", entry(t0 + ms(20)));
        assert_eq!(table.next_deadline(), Some(t0 + ms(10)));
        assert!(table.remove("a").is_some());
        assert_eq!(table.next_deadline(), Some(t0 + ms(20)));
        assert_eq!(table.take_due(t0 + ms(100)), vec!["b"]);
        assert_eq!(table.len(), 1);
        table.remove("b");
        assert_eq!(table.next_deadline(), None);
        assert!(table.is_empty());
    }

    #[test]
    fn a_rescheduled_entry_comes_due_once_at_its_new_deadline() {
        let t0 = Instant::now();
        let mut table = Timed::new();
        table.insert(1, entry(t0 + ms(10)));
        table.insert(2, entry(t0 + ms(20)));
        assert_eq!(table.next_deadline(), Some(t0 + ms(10)));
        // Later, then back to the same instant, then later again: one live heap entry.
        table.get_mut(&1).unwrap().at = Some(t0 + ms(30));
        assert_eq!(table.next_deadline(), Some(t0 + ms(20)));
        table.get_mut(&1).unwrap().at = Some(t0 + ms(10));
        assert_eq!(table.next_deadline(), Some(t0 + ms(10)));
        table.get_mut(&1).unwrap().at = Some(t0 + ms(25));
        assert_eq!(table.take_due(t0 + ms(20)), vec![2]);
        table.get_mut(&2).unwrap().at = Some(t0 + ms(60));
        assert_eq!(table.take_due(t0 + ms(24)), Vec::<i32>::new());
        assert_eq!(table.take_due(t0 + ms(100)), vec![1, 2]);
        // Earlier than before also counts.
        table.get_mut(&2).unwrap().at = Some(t0 + ms(5));
        table.get_mut(&1).unwrap().at = None;
        assert_eq!(table.next_deadline(), Some(t0 + ms(5)));
        assert_eq!(table.take_due(t0 + ms(100)), vec![2]);
    }

    #[test]
    fn a_replaced_entry_keeps_only_the_new_deadline() {
        let t0 = Instant::now();
        let mut table = Timed::new();
        table.insert(7, entry(t0 + ms(10)));
        assert_eq!(table.next_deadline(), Some(t0 + ms(10)));
        assert!(table.insert(7, entry(t0 + ms(50))).is_some());
        assert_eq!(table.next_deadline(), Some(t0 + ms(50)));
        assert_eq!(table.take_due(t0 + ms(49)), Vec::<i32>::new());
        assert_eq!(table.take_due(t0 + ms(50)), vec![7]);
    }

    #[test]
    fn a_change_made_without_reading_the_deadline_in_between_is_seen() {
        let t0 = Instant::now();
        let mut table = Timed::new();
        table.insert(1, entry(t0 + ms(10)));
        assert_eq!(table.next_deadline(), Some(t0 + ms(10)));
        table.get_mut(&1).unwrap().at = Some(t0 + ms(40));
        for value in table.values_mut() {
            value.at = value.at.map(|at| at + ms(1));
        }
        assert_eq!(table.take_due(t0 + ms(40)), Vec::<i32>::new());
        assert_eq!(table.next_deadline(), Some(t0 + ms(41)));
    }

    #[test]
    fn a_finished_entry_without_deadline_is_handed_to_the_next_run() {
        let t0 = Instant::now();
        let mut table = Timed::new();
        table.insert(1, entry(t0 + ms(10)));
        table.insert(2, entry(t0 + ms(10)));
        *table.get_mut(&1).unwrap() = Entry {
            at: None,
            finished: true,
        };
        assert_eq!(table.next_deadline(), Some(t0 + ms(10)));
        assert_eq!(table.take_due(t0), vec![1]);
        table.remove(&1);
        assert_eq!(table.take_due(t0), Vec::<i32>::new());
    }

    #[test]
    fn many_entries_come_due_in_order_and_stale_ones_do_not_pile_up() {
        let t0 = Instant::now();
        let mut table = Timed::new();
        let n = 20_000u64;
        let rounds = 5;
        // Inserted in a scrambled order.
        for i in 0..n {
            let key = (i * 7919) % n;
            table.insert(key, entry(t0 + ms(key)));
        }
        assert_eq!(table.next_deadline(), Some(t0));
        // Every key rescheduled again and again: the heap stays within a constant of the table.
        for round in 1..=rounds {
            for key in 0..n {
                table.get_mut(&key).unwrap().at = Some(t0 + ms(key + round));
            }
            assert_eq!(table.next_deadline(), Some(t0 + ms(round)));
            assert!(
                table.heap_len() <= 2 * n as usize + 64,
                "heap {} for {n} entries",
                table.heap_len()
            );
        }
        for key in (0..n).filter(|k| k % 2 == 1) {
            table.remove(&key);
        }
        assert_eq!(table.next_deadline(), Some(t0 + ms(rounds)));
        let due = table.take_due(t0 + ms(rounds + 999));
        assert_eq!(due, (0..1000u64).step_by(2).collect::<Vec<_>>());
        for key in due {
            table.remove(&key);
        }
        assert_eq!(table.len(), n as usize / 2 - 500);
        assert_eq!(table.next_deadline(), Some(t0 + ms(rounds + 1000)));
    }

    #[test]
    fn cached_deadline_is_computed_again_after_a_mutable_borrow() {
        let t0 = Instant::now();
        let mut value = CachedDeadline::new(entry(t0 + ms(10)));
        assert_eq!(value.next_deadline(), Some(t0 + ms(10)));
        value.at = Some(t0 + ms(3));
        assert_eq!(value.next_deadline(), Some(t0 + ms(3)));
        value.at = None;
        assert_eq!(value.next_deadline(), None);
    }
}
