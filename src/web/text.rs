//! The pages' words in English and Chinese, and HTML escaping. Every label a page shows
//! comes from [`LABELS`]; the reviewer picks the language (a cookie), the browser's
//! Accept-Language decides until they do.

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

/// The cookie that keeps the reviewer's choice.
pub const LANG_COOKIE: &str = "hotline_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The cookie's choice, else the first of Accept-Language's languages we have (by
    /// q-value), else English.
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::parse) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for item in accept_language.unwrap_or("").split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                .unwrap_or(1.0f32);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Lang::Zh
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or(Lang::En)
    }

    /// The label `key` in this language (the key itself if it has none: a test keeps
    /// every key the pages use in the table).
    pub fn t(self, key: &str) -> &'static str {
        match LABELS.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, zh)) => match self {
                Lang::En => en,
                Lang::Zh => zh,
            },
            None => {
                debug_assert!(false, "no label {key}");
                "?"
            }
        }
    }
}

/// (key, English, Chinese).
pub const LABELS: &[(&str, &str, &str)] = &[
    ("title", "Hotline QA", "热线质检"),
    ("sign_in", "Sign in", "登录"),
    ("sign_out", "Sign out", "退出"),
    ("name", "Name", "用户名"),
    ("password", "Password", "密码"),
    (
        "bad_sign_in",
        "Wrong name or password.",
        "用户名或密码错误。",
    ),
    (
        "stale_sign_in",
        "The sign-in form had expired. Please sign in again.",
        "登录表单已过期，请重新登录。",
    ),
    (
        "too_many",
        "Too many failed sign-ins. Try again later.",
        "登录失败次数过多，请稍后再试。",
    ),
    ("calls", "Calls", "通话"),
    ("totals", "Totals", "汇总"),
    ("today", "Today", "今天"),
    ("yesterday", "Yesterday", "昨天"),
    ("last_7_days", "Last 7 days", "最近7天"),
    ("by_agent", "By agent", "按坐席"),
    ("all_agents", "All agents", "全部坐席"),
    ("all", "All", "全部"),
    ("role_reviewer", "reviewer", "质检员"),
    ("role_supervisor", "supervisor", "主管"),
    ("role_agent", "agent", "坐席"),
    ("from", "From", "从"),
    ("to", "To", "到"),
    ("day", "Day", "日期"),
    ("hotline", "Hotline", "热线"),
    ("queue", "Queue", "队列"),
    ("agent", "Agent", "坐席"),
    ("caller", "Caller", "来电号码"),
    ("flag", "Flag", "标记"),
    ("score_min", "Score at least", "最低分"),
    ("score_max", "Score at most", "最高分"),
    ("filter", "Filter", "筛选"),
    ("clear", "Clear", "清除"),
    ("started", "Started", "开始时间"),
    ("duration", "Duration", "时长"),
    ("wait", "Wait", "等待"),
    ("outcome", "Outcome", "结果"),
    ("recording", "Recording", "录音"),
    ("flags", "Flags", "标记"),
    ("score", "Score", "得分"),
    ("no_calls", "No calls match.", "没有符合条件的通话。"),
    ("previous", "Previous", "上一页"),
    ("next", "Next", "下一页"),
    ("page", "Page", "页"),
    ("not_found", "Not found.", "未找到。"),
    (
        "no_such_page",
        "There is no page at this address.",
        "此地址没有页面。"
    ),
    ("form_unreadable", "Form not read", "表单无法读取"),
    (
        "buckets_range",
        "buckets is a whole number, 1 or more.",
        "buckets 须为不小于 1 的整数。"
    ),
    (
        "form_send_again",
        "The form could not be read. Open its page again and send it from there.",
        "无法读取该表单。请重新打开其页面，再从那里提交。"
    ),
    ("forbidden", "Not allowed.", "无权操作。"),
    ("not_saved", "Not saved", "未保存"),
    (
        "call_not_found",
        "There is no such call, or it is not one you may see.",
        "没有这个通话，或您无权查看。"
    ),
    ("in_recording", "in the recording", "录音中"),
    (
        "clocks_explained",
        "Times count from the call's INVITE; in brackets, where that moment is in the recording (the player's clock).",
        "时间从通话的 INVITE 起算；括号内是该时刻在录音中的位置（播放器的时间）。"
    ),
    ("not_applied", "Not applied", "未应用"),
    (
        "not_a_date",
        "is not a date (YYYY-MM-DD)",
        "不是日期（YYYY-MM-DD）",
    ),
    ("not_a_number", "is not a whole number", "不是整数"),
    (
        "not_a_day",
        "is not today, yesterday or 7d",
        "不是 today、yesterday 或 7d",
    ),
    ("no_points", "no points chosen for", "未选择分数："),
    ("call", "Call", "通话"),
    ("timeline", "Timeline", "时间线"),
    (
        "no_recording",
        "This call has no recording.",
        "此通话没有录音。",
    ),
    ("first_30", "First 30 s", "前30秒"),
    ("caller_said", "Caller said (left)", "来电者所说（左）"),
    ("caller_heard", "Caller heard (right)", "来电者所听（右）"),
    ("volume", "Volume", "音量"),
    ("speed", "Speed", "速度"),
    ("export", "Export", "导出"),
    ("download_wav", "Recording (WAV)", "录音（WAV）"),
    (
        "download_json",
        "Record, flags and scores (JSON)",
        "记录、标记与评分（JSON）",
    ),
    ("scorecard", "Scorecard", "评分表"),
    (
        "auto_items",
        "Scored from the switch's events",
        "根据交换机事件自动评分",
    ),
    ("reviewer_items", "Scored by the reviewer", "由质检员评分"),
    ("comment", "Comment", "备注"),
    ("save", "Save", "保存"),
    ("saved_by", "Saved by", "评分人"),
    (
        "critical",
        "Critical failure (zeroes the score)",
        "严重错误（总分为零）",
    ),
    ("yes", "Yes", "是"),
    ("no", "No", "否"),
    ("passed", "Passed", "通过"),
    ("failed", "Failed", "未通过"),
    ("override", "Override", "更正"),
    ("overridden", "Overridden by", "已被更正："),
    ("week", "Week", "周"),
    ("calls_scored", "Calls scored", "已评分通话"),
    ("average", "Average", "平均分"),
    ("no_scores", "No scores yet.", "暂无评分。"),
    ("state", "State", "状态"),
    ("marker_first_30", "The first 30 seconds", "前30秒"),
    ("marker_cluster", "{n} events", "{n} 个事件"),
    (
        "cut_short",
        "Cut short (the switch stopped)",
        "录音中断（交换机停止）",
    ),
    (
        "reviewer_only",
        "Only reviewers and supervisors score.",
        "只有质检员和主管可以评分。",
    ),
    ("rule", "Rule", "规则"),
    ("evidence", "Evidence", "依据"),
    ("at", "At", "时间"),
    ("total", "Total", "总分"),
    ("any_failed", "Any failed", "任一未通过"),
    ("item", "Item", "项目"),
    ("points", "Points", "分数"),
    ("save_override", "Save decision", "保存更正"),
    ("flag_markers", "Flags on the recording", "录音上的标记"),
    ("audio_missing", "Audio checks not run", "未进行音频检查"),
    ("critical_item", "critical", "关键项"),
    ("saved", "Saved", "已保存"),
    ("calls_count", "Scored calls", "已评分通话数"),
    ("critical_failed", "Critical failures", "严重错误数"),
    ("scores_count", "Scorecards", "评分表数"),
];

/// Text made safe to put in HTML, in an element or a quoted attribute.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A query-string component: everything but unreserved characters percent-encoded.
pub fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_and_no_way_out_of_an_attribute() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("坐席 alice"), "坐席 alice");
        assert_eq!(url_component("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn every_label_has_an_english_and_a_different_chinese_text_and_keys_are_unique() {
        let mut keys: Vec<&str> = LABELS.iter().map(|(k, _, _)| *k).collect();
        for (key, en, zh) in LABELS {
            assert!(!en.is_empty() && !zh.is_empty(), "{key}");
            assert_ne!(en, zh, "{key} is not translated");
            assert!(zh.chars().any(|c| c as u32 > 0x2E80), "{key}: {zh}");
        }
        keys.sort();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before);
        assert_eq!(Lang::Zh.t("sign_in"), "登录");
        assert_eq!(Lang::En.t("sign_in"), "Sign in");
    }

    #[test]
    fn the_cookie_decides_the_language_else_accept_language() {
        assert_eq!(Lang::choose(Some("zh"), Some("en-GB")), Lang::Zh);
        assert_eq!(Lang::choose(Some("en"), Some("zh-CN")), Lang::En);
        assert_eq!(Lang::choose(Some("fr"), Some("zh-CN,zh;q=0.9")), Lang::Zh);
        assert_eq!(
            Lang::choose(None, Some("en-US,en;q=0.9,zh;q=0.8")),
            Lang::En
        );
        assert_eq!(
            Lang::choose(None, Some("fr, zh-TW;q=0.5, en;q=0.4")),
            Lang::Zh
        );
        assert_eq!(Lang::choose(None, Some("zh;q=0")), Lang::En);
        assert_eq!(Lang::choose(None, None), Lang::En);
    }
}
