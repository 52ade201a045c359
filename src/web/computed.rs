//! Results the pages compute from a recording, kept so a second look costs nothing: the
//! waveform's peaks and a call's QA flags (a VAD pass over the whole recording). Each entry
//! is keyed by what it was computed from (the recording's row and file length, the
//! buckets, the reviewers' overrides), so a changed input is computed afresh. Bounded:
//! past [`ENTRIES`] the oldest entry goes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries kept per kind.
pub const ENTRIES: usize = 64;

/// The values by key, each with the count of puts when it was kept (oldest = lowest).
type Entries<V> = HashMap<String, (u64, Arc<V>)>;

/// A small map from a key to a computed value, oldest out first.
#[derive(Debug)]
pub struct Computed<V> {
    entries: Mutex<(u64, Entries<V>)>,
}

impl<V> Default for Computed<V> {
    fn default() -> Self {
        Computed {
            entries: Mutex::new((0, HashMap::new())),
        }
    }
}

impl<V> Computed<V> {
    /// The value kept for `key`.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.1.get(key).map(|(_, v)| Arc::clone(v))
    }

    /// Keeps `value` for `key`, forgetting the oldest entry when full.
    pub fn put(&self, key: String, value: Arc<V>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (counter, map) = &mut *entries;
        *counter += 1;
        if !map.contains_key(&key) && map.len() >= ENTRIES {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (n, _))| *n)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(key, (*counter, value));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_kept_by_its_key_and_the_oldest_goes_when_full() {
        let computed = Computed::<u32>::default();
        for n in 0..(ENTRIES as u32 + 1) {
            computed.put(format!("k{n}"), Arc::new(n));
        }
        assert_eq!(computed.len(), ENTRIES);
        assert_eq!(computed.get("k0"), None);
        assert_eq!(computed.get("k1").as_deref(), Some(&1));
        assert_eq!(
            computed.get(&format!("k{ENTRIES}")).as_deref(),
            Some(&(ENTRIES as u32))
        );
        computed.put("k1".into(), Arc::new(100));
        assert_eq!(computed.get("k1").as_deref(), Some(&100));
        assert_eq!(computed.len(), ENTRIES);
    }
}
