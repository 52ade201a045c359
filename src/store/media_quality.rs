//! The media figures of a call's legs (RFC 3550 loss, jitter and round trip from the media
//! engine), one row per call record and side (`media_quality`), as `hotline calls show` and a
//! QA reviewer read them. A later figure for the same leg replaces the earlier one.

use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError};
use crate::media::quality::{LegQuality, LegRole};

/// Issue 7: one row per leg of a call record.
pub(super) const SCHEMA_V3: &str = "
CREATE TABLE media_quality (
    call_id                TEXT NOT NULL REFERENCES calls (id),
    role                   TEXT NOT NULL,     -- caller | agent
    packets_sent           INTEGER NOT NULL,
    packets_received       INTEGER NOT NULL,
    packets_lost           INTEGER NOT NULL,
    jitter_us              INTEGER NOT NULL,
    rtt_us                 INTEGER,           -- NULL: the far end sent no usable report
    remote_packets_lost    INTEGER,
    remote_jitter_us       INTEGER,
    rtcp_received          INTEGER NOT NULL,
    rtcp_sent              INTEGER NOT NULL,
    packets_from_strangers INTEGER NOT NULL,
    PRIMARY KEY (call_id, role)
);
";

/// One leg's media figures as stored and shown (`calls show`, its JSON `media` list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegMedia {
    /// "caller" or "agent".
    pub role: String,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub jitter_us: u32,
    pub rtt_us: Option<u32>,
    pub remote_packets_lost: Option<u64>,
    pub remote_jitter_us: Option<u32>,
    pub rtcp_received: u64,
    pub rtcp_sent: u64,
    pub packets_from_strangers: u64,
}

/// SQLite integers are signed: counts beyond i64 (never in practice) are kept at the top.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn micros(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

impl Store {
    /// Saves (or replaces) the media figures of one leg of a call record.
    pub fn save_media_quality(
        &self,
        call_id: &str,
        role: LegRole,
        quality: &LegQuality,
    ) -> Result<(), StoreError> {
        self.connection()
            .prepare_cached(
                "INSERT OR REPLACE INTO media_quality (call_id, role, packets_sent,
                     packets_received, packets_lost, jitter_us, rtt_us, remote_packets_lost,
                     remote_jitter_us, rtcp_received, rtcp_sent, packets_from_strangers)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    call_id,
                    role.as_str(),
                    int(quality.packets_sent),
                    int(quality.packets_received),
                    int(quality.packets_lost),
                    quality.jitter_us,
                    quality.rtt_us,
                    quality.remote_packets_lost.map(int),
                    quality.remote_jitter_us,
                    int(quality.rtcp_received),
                    int(quality.rtcp_sent),
                    int(quality.packets_from_strangers),
                ])
            })
            .map_err(|source| match source {
                rusqlite::Error::SqliteFailure(error, _)
                    if error.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::UnknownCall {
                        path: self.path.clone(),
                        call_id: call_id.to_string(),
                    }
                }
                source => StoreError::Sqlite {
                    path: self.path.clone(),
                    action: "save a leg's media figures",
                    source,
                },
            })?;
        Ok(())
    }

    /// The media figures of a call record's legs, the caller's first.
    pub(super) fn media_of(
        connection: &rusqlite::Connection,
        call_id: &str,
    ) -> rusqlite::Result<Vec<LegMedia>> {
        let mut statement = connection.prepare(
            "SELECT role, packets_sent, packets_received, packets_lost, jitter_us, rtt_us,
                    remote_packets_lost, remote_jitter_us, rtcp_received, rtcp_sent,
                    packets_from_strangers
             FROM media_quality WHERE call_id = ?1
             ORDER BY role = 'caller' DESC, role",
        )?;
        let rows = statement.query_map([call_id], |row| {
            Ok(LegMedia {
                role: row.get(0)?,
                packets_sent: count(row.get(1)?),
                packets_received: count(row.get(2)?),
                packets_lost: count(row.get(3)?),
                jitter_us: micros(row.get(4)?),
                rtt_us: row.get::<_, Option<i64>>(5)?.map(micros),
                remote_packets_lost: row.get::<_, Option<i64>>(6)?.map(count),
                remote_jitter_us: row.get::<_, Option<i64>>(7)?.map(micros),
                rtcp_received: count(row.get(8)?),
                rtcp_sent: count(row.get(9)?),
                packets_from_strangers: count(row.get(10)?),
            })
        })?;
        rows.collect()
    }
}

/// "1500 packets in, 3 lost (0.2 %), jitter 4.1 ms, round trip 12 ms, 0 from strangers",
/// then what the far end reported of our stream when it did.
pub(super) fn describe(media: &LegMedia) -> String {
    let heard = media.packets_received + media.packets_lost;
    let permille = if heard == 0 {
        0
    } else {
        // Rounded to a tenth of a percent.
        (media.packets_lost * 2000 + heard) / (2 * heard)
    };
    let mut text = format!(
        "{} packets in, {} lost ({}.{} %), jitter {}",
        media.packets_received,
        media.packets_lost,
        permille / 10,
        permille % 10,
        tenths_of_ms(media.jitter_us)
    );
    if let Some(rtt) = media.rtt_us {
        text.push_str(&format!(
            ", round trip {} ms",
            (u64::from(rtt) + 500) / 1000
        ));
    }
    text.push_str(&format!(
        ", {} from strangers; {} packets out",
        media.packets_from_strangers, media.packets_sent
    ));
    if let Some(lost) = media.remote_packets_lost {
        text.push_str(&format!(", far end lost {lost}"));
        if let Some(jitter) = media.remote_jitter_us {
            text.push_str(&format!(", jitter {}", tenths_of_ms(jitter)));
        }
    }
    text
}

/// Microseconds as milliseconds with one decimal, rounded: 4_149 -> "4.1 ms".
fn tenths_of_ms(us: u32) -> String {
    let tenths = (u64::from(us) + 50) / 100;
    format!("{}.{} ms", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests;
