//! STUB
use crate::switch::timeline::TimelineEvent;
use std::path::Path;
#[derive(Debug, thiserror::Error)]
#[error("store")]
pub struct StoreError;
pub struct Store;
#[derive(Debug, Clone)]
pub struct NewCall {
    pub id: String,
    pub sip_call_id: String,
    pub from: String,
    pub to: String,
    pub hotline: Option<String>,
    pub started_at: jiff::Timestamp,
}
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallSummary;
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallRecord {
    pub summary: CallSummary,
    pub events: Vec<TimelineEvent>,
}
impl Store {
    pub fn open(_d: &Path) -> Result<Store, StoreError> {
        todo!()
    }
    pub fn begin_call(&self, _c: &NewCall) -> Result<(), StoreError> {
        todo!()
    }
    pub fn append_event(&self, _id: &str, _e: &TimelineEvent) -> Result<(), StoreError> {
        todo!()
    }
    pub fn finish_call(&self, _id: &str, _at: jiff::Timestamp, _o: &str) -> Result<(), StoreError> {
        todo!()
    }
    pub fn mark_interrupted(&self) -> Result<usize, StoreError> {
        todo!()
    }
    pub fn list_calls(&self, _l: usize) -> Result<Vec<CallSummary>, StoreError> {
        todo!()
    }
    pub fn call(&self, _id: &str) -> Result<Option<CallRecord>, StoreError> {
        todo!()
    }
}
pub fn render_list(_c: &[CallSummary]) -> String {
    todo!()
}
pub fn render_call(_c: &CallRecord) -> String {
    todo!()
}
