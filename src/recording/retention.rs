//! Deletes recordings older than the retention setting (filled in by the lead).
