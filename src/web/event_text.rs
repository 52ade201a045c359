//! The call timeline's words in English and Chinese: each event kind's name as a reviewer
//! reads it (the raw id stays in `data-kind` attributes and the export), and an event's
//! details (its fields, with the switch's reason codes, parties and yes/no put into words).

use super::text::Lang;
use crate::qa::evidence::code_word;
use crate::switch::timeline::EventKind;

/// (event kind id, English, Chinese): one row for every kind of [`EventKind`].
pub const EVENT_KINDS: &[(&str, &str, &str)] = &[
    ("invite", "Call arrived", "来电到达"),
    ("ringing", "Ringing", "振铃"),
    ("answered", "Switch answered", "系统接听"),
    ("confirmed", "Caller confirmed", "来电确认"),
    ("prompt_started", "Prompt started", "开始播放提示音"),
    ("prompt_finished", "Prompt finished", "提示音播放结束"),
    ("dtmf", "Key pressed", "按键"),
    ("menu_choice", "Menu choice", "菜单选择"),
    ("menu_invalid", "Invalid menu choice", "无效的菜单选择"),
    ("menu_no_input", "No menu choice", "菜单无输入"),
    ("collected", "Digits collected", "已收集号码"),
    ("language", "Language chosen", "切换语言"),
    ("route", "Routed", "路由"),
    ("hours", "Business hours checked", "营业时间判断"),
    ("rejected", "Rejected", "拒绝来电"),
    ("hangup", "Hang-up", "挂机"),
    ("queue_entered", "Entered the queue", "进入队列"),
    ("announcement", "Position announced", "播报排队位置"),
    ("offered", "Offered to an agent", "分配给坐席"),
    ("offer_ended", "Offer ended", "分配结束"),
    ("agent_answered", "Agent answered", "坐席接听"),
    ("whisper", "Whisper to the agent", "坐席耳语提示"),
    ("bridged", "Connected", "接通"),
    ("queue_exit", "Left the queue", "离开队列"),
    ("callback_offered", "Callback offered", "提供回拨"),
    ("queue_unstaffed", "Nobody taking calls", "无坐席接听"),
    ("callback_requested", "Callback requested", "请求回拨"),
    ("voicemail", "Voicemail", "语音留言"),
    ("wrap_up", "Wrap-up", "话后处理"),
    ("feature_code", "Feature code", "功能码"),
    ("hold", "Hold", "保留"),
    ("resume", "Resumed", "恢复通话"),
    (
        "media_before_ack",
        "Media before the answer's ACK",
        "确认前已收到媒体",
    ),
    ("media_timeout", "Media timeout", "媒体超时"),
    ("in_call_keys", "In-call keys", "通话中按键"),
    ("hold_reason", "Hold reason", "保留原因"),
    ("hold_check_back", "Hold check-back", "保留回报"),
    ("hold_overrun", "Hold overran", "保留超时"),
    ("hold_reminder", "Hold reminder", "保留提醒"),
    ("hold_ended", "Hold ended", "保留结束"),
    ("transfer_requested", "Transfer requested", "请求转接"),
    ("transfer_explained", "Transfer explained", "转接说明"),
    ("transfer_completed", "Transfer completed", "转接完成"),
    ("transfer_failed", "Transfer failed", "转接失败"),
    ("recall", "Recalled", "接回"),
    ("agent_leg_lost", "Agent's line lost", "坐席线路中断"),
    ("requeued", "Back in the queue", "重新排队"),
    ("context_handed_over", "Context handed over", "交接背景"),
    ("recording_started", "Recording started", "开始录音"),
    ("recording_paused", "Recording paused", "录音暂停"),
    ("recording_resumed", "Recording resumed", "录音恢复"),
];

/// (field, Chinese): every field an event kind has, as its details name it in Chinese (in
/// English a detail keeps the field's own name: "rings=1").
pub const FIELDS_ZH: &[(&str, &str)] = &[
    ("from", "主叫"),
    ("to", "被叫"),
    ("rings", "振铃次数"),
    ("name", "名称"),
    ("language", "语言"),
    ("interrupted", "被打断"),
    ("digit", "按键"),
    ("source", "来源"),
    ("menu", "菜单"),
    ("action", "动作"),
    ("digits", "号码"),
    ("target", "目标"),
    ("open", "营业中"),
    ("status", "状态码"),
    ("reason", "原因"),
    ("by", "发起方"),
    ("queue", "队列"),
    ("position", "排队位置"),
    ("expected_wait_s", "预计等待（秒）"),
    ("priority", "优先级"),
    ("agent", "坐席"),
    ("extension", "分机"),
    ("outcome", "结果"),
    ("wait_ms", "等待（毫秒）"),
    ("transcoding", "转码"),
    ("number", "编号"),
    ("file", "文件"),
    ("duration_ms", "时长（毫秒）"),
    ("seconds", "秒数"),
    ("code", "功能码"),
    ("state", "状态"),
    ("side", "一方"),
    ("silent_ms", "静默（毫秒）"),
    ("keys", "按键序列"),
    ("expected_s", "预计（秒）"),
    ("held_s", "已保留（秒）"),
    ("estimate_s", "新预计（秒）"),
    ("check_backs", "回报次数"),
    ("kind", "类型"),
    ("method", "方式"),
    ("items", "内容"),
    ("paused_ms", "暂停（毫秒）"),
    ("unstaffed_s", "无人接听（秒）"),
];

/// Fields whose values are the switch's codes (put into words), not names or numbers.
const CODE_FIELDS: &[&str] = &["by", "side", "reason", "outcome", "kind", "method"];

/// A party in Chinese.
fn party_zh(party: &str) -> Option<&'static str> {
    match party {
        "caller" => Some("来电者"),
        "agent" => Some("坐席"),
        "switch" => Some("交换机"),
        _ => None,
    }
}

/// An event kind's name in `lang` (the id itself for a kind the table lacks, which a test
/// forbids).
pub fn kind_label(kind: &str, lang: Lang) -> &str {
    match EVENT_KINDS.iter().find(|(id, _, _)| *id == kind) {
        Some((_, en, zh)) => match lang {
            Lang::En => en,
            Lang::Zh => zh,
        },
        None => kind,
    }
}

/// An event's details in `lang`: "key=value" joined by spaces in English (as the switch
/// names them), "字段：值" joined by "，" in Chinese.
pub fn event_detail(kind: &EventKind, lang: Lang) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(kind) else {
        return String::new();
    };
    let fields = fields.iter().filter(|(k, _)| k.as_str() != "event");
    match lang {
        Lang::En => fields
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Lang::Zh => fields
            .map(|(k, v)| {
                let key = FIELDS_ZH
                    .iter()
                    .find(|(f, _)| f == k)
                    .map_or(k.as_str(), |(_, zh)| zh);
                format!("{key}：{}", value_zh(k, v))
            })
            .collect::<Vec<_>>()
            .join("，"),
    }
}

/// A field's value in Chinese: yes/no, parties and codes in words, lists joined, the rest
/// as it is.
fn value_zh(field: &str, value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Bool(true) => "是".into(),
        Value::Bool(false) => "否".into(),
        Value::Null => "—".into(),
        Value::String(s) if CODE_FIELDS.contains(&field) => match party_zh(s) {
            Some(party) => party.into(),
            None => code_word(s, "zh"),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| value_zh(field, item))
            .collect::<Vec<_>>()
            .join("、"),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "event_text_tests.rs"]
mod tests;
