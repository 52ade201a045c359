//! Repairs recordings a stopped switch left unfinished (filled in by the lead).
