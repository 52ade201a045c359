//! A flag's evidence as a sentence with its measured values, worded in English (the text
//! kept in [`Flag::evidence`](super::Flag), the export and `hotline qa`) or Chinese (the
//! reviewer's page). Owns every evidence sentence the rules write and the Chinese words
//! for the switch's reason codes that appear in them (and on the call page's timeline).

use serde::{Deserialize, Serialize};

/// How a spell in a queue ended, as a wait flag tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueueSpellEnd {
    /// An agent answered the caller from the queue.
    AgentAnswered { agent: String, queue: String },
    /// The queue's maximum wait came — or, `unstaffed`, nobody took its calls for its
    /// `unstaffed_wait` — and the switch moved the caller on its `exit` (`callback_offer`,
    /// `max_wait`, `unstaffed` or `voicemail`; an overflow continues the wait in the next
    /// queue).
    ExitTaken {
        queue: String,
        exit: String,
        #[serde(default)]
        unstaffed: bool,
    },
    /// The caller hung up while queued.
    CallerLeft { queue: String },
}

/// Which hold a hold flag is about: its number, the call's count, its length and the
/// longest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldAbout {
    pub number: usize,
    pub count: usize,
    pub held_ms: u64,
    pub longest_ms: u64,
}

/// Which transfer a transfer flag is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferAbout {
    /// "blind" or "attended".
    pub kind: String,
    pub agent: String,
    pub target: String,
}

/// How a failed transfer's caller was brought back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BroughtBack {
    /// A recall event to an agent or a queue.
    Recall { to: String },
    /// A requeued event to the front of a queue.
    Requeued { queue: String },
}

/// One evidence sentence and the values it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Evidence {
    SwitchAnswered {
        rings: u32,
        limit: u32,
    },
    AgentAnswered {
        transfer_target: bool,
        agent: String,
        rings: u32,
        limit: u32,
    },
    OfferNotAnswered {
        agent: String,
        rings: u32,
        limit: u32,
    },
    TransferTargetNotAnswered {
        target: String,
    },
    Waited {
        end: QueueSpellEnd,
        waited_ms: u64,
        limit_ms: u64,
    },
    SwitchEndedInQueue {
        queue: String,
    },
    AbandonedInQueue {
        waited_ms: u64,
        queue: String,
    },
    AbandonedWhileRinging {
        rang_ms: u64,
    },
    StayedInQueue,
    HoldExplained {
        hold: HoldAbout,
        reason: String,
        expected_s: u32,
        after_ms: u64,
        limit_ms: u64,
    },
    HoldNotExplained {
        hold: HoldAbout,
    },
    HoldCheckBacks {
        hold: HoldAbout,
        check_backs: u32,
        gap_ms: u64,
        limit_ms: u64,
    },
    TransferExplained {
        transfer: TransferAbout,
        after_ms: u64,
    },
    TransferWaitAnnounced {
        transfer: TransferAbout,
        wait_s: u32,
    },
    TransferNotExplained {
        transfer: TransferAbout,
    },
    ContextHandedOver {
        transfer: TransferAbout,
        agent: String,
        items: Vec<String>,
    },
    ContextNotHandedOver {
        transfer: TransferAbout,
        to: String,
    },
    TransferRecalled {
        transfer: TransferAbout,
        reason: String,
        back: BroughtBack,
    },
    TransferNotRecalled {
        transfer: TransferAbout,
        reason: String,
    },
    RecordingLost {
        lost_ms: u64,
    },
    NoGreeting {
        agent: String,
        connect_ms: u64,
    },
    Greeting {
        agent: String,
        late_ms: u64,
        took_ms: u64,
        connect_ms: u64,
        limit_ms: u64,
        start_limit_ms: u64,
    },
    Silence {
        silent_ms: u64,
        limit_ms: u64,
    },
    LongestSilence {
        longest_ms: u64,
        limit_ms: u64,
    },
    TalkOver {
        both_ms: u64,
        limit_ms: u64,
    },
    LongestTalkOver {
        longest_ms: u64,
        limit_ms: u64,
    },
}

/// "12.3 s".
fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// "12.3 秒".
fn seconds_zh(ms: u64) -> String {
    format!("{:.1} 秒", ms as f64 / 1000.0)
}

/// The switch's reason and outcome codes (and transfer kinds) in Chinese: (code, Chinese).
pub const CODE_WORDS_ZH: &[(&str, &str)] = &[
    ("no_answer", "无人接听"),
    ("busy", "忙线"),
    ("declined", "拒接"),
    ("failed", "失败"),
    ("caller_left", "来电者已离开"),
    ("transferor_left", "转接发起人已离开"),
    ("unavailable", "不可用"),
    ("bye", "挂断"),
    ("media_timeout", "媒体超时"),
    ("lost", "丢失"),
    ("aborted", "已中止"),
    ("caller hung up", "来电者挂机"),
    ("agent hung up", "坐席挂机"),
    ("cancelled before answer", "接听前取消"),
    ("callback_offer", "回拨"),
    ("max_wait", "最长等待已到"),
    ("unstaffed", "无坐席接听"),
    ("voicemail", "语音信箱"),
    ("blind", "盲转"),
    ("attended", "咨询转接"),
    ("refer", "呼叫转移请求"),
    ("keys", "按键"),
    ("invite_replaces", "呼叫替换"),
    ("default", "默认"),
    ("completed", "已完成"),
    ("cancelled", "已取消"),
    ("rejected", "已拒绝"),
    ("interrupted", "已中断"),
    ("answered", "已接听"),
    ("abandoned", "已放弃"),
];

/// A reason or outcome code in `language`: its Chinese word when it has one, else the
/// code itself (a name, a number, a dialplan's own words).
pub fn code_word(code: &str, language: &str) -> String {
    if language.starts_with("zh") {
        if let Some((_, zh)) = CODE_WORDS_ZH.iter().find(|(c, _)| *c == code) {
            return (*zh).to_string();
        }
    }
    code.to_string()
}

impl HoldAbout {
    fn english(&self) -> String {
        format!(
            "hold {} of {}, {} (longest {})",
            self.number,
            self.count,
            seconds(self.held_ms),
            seconds(self.longest_ms)
        )
    }

    fn chinese(&self) -> String {
        format!(
            "第 {} 次保留（共 {} 次），{}（最长 {}）",
            self.number,
            self.count,
            seconds_zh(self.held_ms),
            seconds_zh(self.longest_ms)
        )
    }
}

impl TransferAbout {
    fn english(&self) -> String {
        format!(
            "{} transfer by {} to {}",
            self.kind, self.agent, self.target
        )
    }

    fn chinese(&self) -> String {
        let kind = match self.kind.as_str() {
            "blind" => "盲转".to_string(),
            "attended" => "咨询转接".to_string(),
            other => format!("{other} 转接"),
        };
        format!("{} 发起的{kind}（至 {}）", self.agent, self.target)
    }
}

impl Evidence {
    /// The sentence in `language` ("zh..." gives Chinese, anything else English).
    pub fn text(&self, language: &str) -> String {
        if language.starts_with("zh") {
            self.chinese()
        } else {
            self.english()
        }
    }

    /// The English sentence: the flag's `evidence` as exported.
    pub fn english(&self) -> String {
        use Evidence::*;
        match self {
            SwitchAnswered { rings, limit } => format!(
                "answered event: switch answered at ring {rings}, measured {rings} against threshold {limit}"
            ),
            AgentAnswered {
                transfer_target,
                agent,
                rings,
                limit,
            } => format!(
                "agent_answered event: {} {agent} answered at ring {rings}, measured {rings} against threshold {limit}",
                if *transfer_target { "transfer target" } else { "agent" }
            ),
            OfferNotAnswered { agent, rings, limit } => format!(
                "offer_ended event: {agent} did not answer in {rings} rings, measured {rings} against threshold {limit}"
            ),
            TransferTargetNotAnswered { target } => {
                format!("transfer_failed event: {target} did not answer (no_answer)")
            }
            Waited {
                end,
                waited_ms,
                limit_ms,
            } => {
                let how = match end {
                    QueueSpellEnd::AgentAnswered { agent, queue } => {
                        format!("agent_answered event: {agent} answered from {queue}")
                    }
                    QueueSpellEnd::ExitTaken {
                        queue,
                        exit,
                        unstaffed: false,
                    } => {
                        format!("queue_exit event: {queue}'s maximum wait came and the switch took its exit ({exit})")
                    }
                    QueueSpellEnd::ExitTaken {
                        queue,
                        exit,
                        unstaffed: true,
                    } => {
                        format!("queue_exit event: nobody was taking {queue}'s calls and the switch took its exit ({exit})")
                    }
                    QueueSpellEnd::CallerLeft { queue } => {
                        format!("hangup event: caller left {queue}")
                    }
                };
                format!(
                    "{how}: measured {} in queue against threshold {}",
                    seconds(*waited_ms),
                    seconds(*limit_ms)
                )
            }
            SwitchEndedInQueue { queue } => format!(
                "hangup event: the switch ended the call in {queue}; not abandoned by the caller"
            ),
            AbandonedInQueue { waited_ms, queue } => format!(
                "hangup event: the caller hung up after {} in {queue} before an agent answered",
                seconds(*waited_ms)
            ),
            AbandonedWhileRinging { rang_ms } => format!(
                "hangup event: the caller hung up after {} of ringing, before the answer",
                seconds(*rang_ms)
            ),
            StayedInQueue => {
                "the caller stayed until an agent answered or chose a way out of the queue".into()
            }
            HoldExplained {
                hold,
                reason,
                expected_s,
                after_ms,
                limit_ms,
            } => format!(
                "{}: hold_reason event \"{reason}\" (about {expected_s} s) {} after the hold began, measured against threshold {}",
                hold.english(),
                seconds(*after_ms),
                seconds(*limit_ms)
            ),
            HoldNotExplained { hold } => format!(
                "{}: no hold_reason event: the caller heard music without a reason",
                hold.english()
            ),
            HoldCheckBacks {
                hold,
                check_backs,
                gap_ms,
                limit_ms,
            } => format!(
                "{}: {check_backs} check-back(s) played; measured {} longest without a word against threshold {}",
                hold.english(),
                seconds(*gap_ms),
                seconds(*limit_ms)
            ),
            TransferExplained { transfer, after_ms } => format!(
                "{}: transfer_explained event {} after the request",
                transfer.english(),
                seconds(*after_ms)
            ),
            TransferWaitAnnounced { transfer, wait_s } => format!(
                "{}: expected wait of {wait_s} s announced",
                transfer.english()
            ),
            TransferNotExplained { transfer } => format!(
                "{}: no transfer_explained event before it ended",
                transfer.english()
            ),
            ContextHandedOver {
                transfer,
                agent,
                items,
            } => format!(
                "{}: context_handed_over event to {agent}: {}",
                transfer.english(),
                if items.is_empty() {
                    "(nothing collected)".to_string()
                } else {
                    items.join(", ")
                }
            ),
            ContextNotHandedOver { transfer, to } => format!(
                "{}: {to} took the call without a context_handed_over event",
                transfer.english()
            ),
            TransferRecalled {
                transfer,
                reason,
                back,
            } => format!(
                "{} failed ({reason}); {}",
                transfer.english(),
                match back {
                    BroughtBack::Recall { to } => format!("recall event to {to}"),
                    BroughtBack::Requeued { queue } => {
                        format!("requeued event to the front of {queue}")
                    }
                }
            ),
            TransferNotRecalled { transfer, reason } => format!(
                "{} failed ({reason}) and the caller was not brought back",
                transfer.english()
            ),
            RecordingLost { lost_ms } => {
                format!("measured {} lost against threshold 0 s", seconds(*lost_ms))
            }
            NoGreeting { agent, connect_ms } => format!(
                "no speech from {agent} on the caller's side after connect at {}",
                seconds(*connect_ms)
            ),
            Greeting {
                agent,
                late_ms,
                took_ms,
                connect_ms,
                limit_ms,
                start_limit_ms,
            } => format!(
                "{agent}'s greeting from {} to {} after connect at {}: measured {} against threshold {} (start {} against {})",
                seconds(*late_ms),
                seconds(*took_ms),
                seconds(*connect_ms),
                seconds(*took_ms),
                seconds(*limit_ms),
                seconds(*late_ms),
                seconds(*start_limit_ms)
            ),
            Silence {
                silent_ms,
                limit_ms,
            } => format!(
                "measured {} with neither side speaking against threshold {}",
                seconds(*silent_ms),
                seconds(*limit_ms)
            ),
            LongestSilence {
                longest_ms,
                limit_ms,
            } => format!(
                "measured {} longest silence while connected against threshold {}",
                seconds(*longest_ms),
                seconds(*limit_ms)
            ),
            TalkOver { both_ms, limit_ms } => format!(
                "measured {} with both sides speaking against threshold {}",
                seconds(*both_ms),
                seconds(*limit_ms)
            ),
            LongestTalkOver {
                longest_ms,
                limit_ms,
            } => format!(
                "measured {} longest talk-over against threshold {}",
                seconds(*longest_ms),
                seconds(*limit_ms)
            ),
        }
    }

    /// The Chinese sentence, with the same values.
    pub fn chinese(&self) -> String {
        use Evidence::*;
        let s = seconds_zh;
        match self {
            SwitchAnswered { rings, limit } => format!(
                "应答事件：系统在第 {rings} 声振铃时接听，测得 {rings} 声，阈值 {limit} 声"
            ),
            AgentAnswered {
                transfer_target,
                agent,
                rings,
                limit,
            } => format!(
                "坐席接听事件：{} {agent} 在第 {rings} 声振铃时接听，测得 {rings} 声，阈值 {limit} 声",
                if *transfer_target { "转接对象" } else { "坐席" }
            ),
            OfferNotAnswered { agent, rings, limit } => format!(
                "振铃结束事件：{agent} 振铃 {rings} 声未接听，测得 {rings} 声，阈值 {limit} 声"
            ),
            TransferTargetNotAnswered { target } => {
                format!("转接失败事件：{target} 未接听（无人接听）")
            }
            Waited {
                end,
                waited_ms,
                limit_ms,
            } => {
                let how = match end {
                    QueueSpellEnd::AgentAnswered { agent, queue } => {
                        format!("坐席接听事件：{agent} 从队列 {queue} 接听")
                    }
                    QueueSpellEnd::ExitTaken {
                        queue,
                        exit,
                        unstaffed,
                    } => {
                        let why = if *unstaffed {
                            "无坐席接听"
                        } else {
                            "已到最长等候时间"
                        };
                        format!(
                            "离开队列事件：队列 {queue} {why}，交换机转入{}",
                            code_word(exit, "zh")
                        )
                    }
                    QueueSpellEnd::CallerLeft { queue } => {
                        format!("挂机事件：来电者离开队列 {queue}")
                    }
                };
                format!(
                    "{how}：排队 {}，阈值 {}",
                    s(*waited_ms),
                    s(*limit_ms)
                )
            }
            SwitchEndedInQueue { queue } => {
                format!("挂机事件：交换机在队列 {queue} 中结束了通话，并非来电者放弃")
            }
            AbandonedInQueue { waited_ms, queue } => format!(
                "挂机事件：来电者在队列 {queue} 中等待 {} 后挂机，坐席尚未接听",
                s(*waited_ms)
            ),
            AbandonedWhileRinging { rang_ms } => format!(
                "挂机事件：来电者在振铃 {} 后挂机，系统尚未接听",
                s(*rang_ms)
            ),
            StayedInQueue => "来电者一直等到坐席接听或主动选择离开队列".into(),
            HoldExplained {
                hold,
                reason,
                expected_s,
                after_ms,
                limit_ms,
            } => format!(
                "{}：保留原因事件“{reason}”（约 {expected_s} 秒）在保留开始后 {} 播放，阈值 {}",
                hold.chinese(),
                s(*after_ms),
                s(*limit_ms)
            ),
            HoldNotExplained { hold } => format!(
                "{}：没有保留原因事件：来电者只听到音乐，未被告知原因",
                hold.chinese()
            ),
            HoldCheckBacks {
                hold,
                check_backs,
                gap_ms,
                limit_ms,
            } => format!(
                "{}：播放了 {check_backs} 次回报；最长 {} 无人说话，阈值 {}",
                hold.chinese(),
                s(*gap_ms),
                s(*limit_ms)
            ),
            TransferExplained { transfer, after_ms } => format!(
                "{}：请求后 {} 出现转接说明事件",
                transfer.chinese(),
                s(*after_ms)
            ),
            TransferWaitAnnounced { transfer, wait_s } => format!(
                "{}：已告知预计等待 {wait_s} 秒",
                transfer.chinese()
            ),
            TransferNotExplained { transfer } => format!(
                "{}：结束前没有转接说明事件",
                transfer.chinese()
            ),
            ContextHandedOver {
                transfer,
                agent,
                items,
            } => format!(
                "{}：交接背景事件，交给 {agent}：{}",
                transfer.chinese(),
                if items.is_empty() {
                    "（未收集任何内容）".to_string()
                } else {
                    items.join("、")
                }
            ),
            ContextNotHandedOver { transfer, to } => format!(
                "{}：{to} 接听了通话，但没有交接背景事件",
                transfer.chinese()
            ),
            TransferRecalled {
                transfer,
                reason,
                back,
            } => format!(
                "{}失败（{}）；{}",
                transfer.chinese(),
                code_word(reason, "zh"),
                match back {
                    BroughtBack::Recall { to } => format!("接回事件：回到 {to}"),
                    BroughtBack::Requeued { queue } => {
                        format!("重新排队事件：回到队列 {queue} 的队首")
                    }
                }
            ),
            TransferNotRecalled { transfer, reason } => format!(
                "{}失败（{}），来电者未被接回",
                transfer.chinese(),
                code_word(reason, "zh")
            ),
            RecordingLost { lost_ms } => format!("测得丢失 {}，阈值 0 秒", s(*lost_ms)),
            NoGreeting { agent, connect_ms } => format!(
                "于 {} 接通后，来电者一侧没有 {agent} 的语音",
                s(*connect_ms)
            ),
            Greeting {
                agent,
                late_ms,
                took_ms,
                connect_ms,
                limit_ms,
                start_limit_ms,
            } => format!(
                "{agent} 的开场白在 {} 接通后 {} 开始、{} 结束：测得 {}，阈值 {}（开始 {}，阈值 {}）",
                s(*connect_ms),
                s(*late_ms),
                s(*took_ms),
                s(*took_ms),
                s(*limit_ms),
                s(*late_ms),
                s(*start_limit_ms)
            ),
            Silence {
                silent_ms,
                limit_ms,
            } => format!("双方都未说话 {}，阈值 {}", s(*silent_ms), s(*limit_ms)),
            LongestSilence {
                longest_ms,
                limit_ms,
            } => format!(
                "接通期间最长静默 {}，阈值 {}",
                s(*longest_ms),
                s(*limit_ms)
            ),
            TalkOver { both_ms, limit_ms } => {
                format!("双方同时说话 {}，阈值 {}", s(*both_ms), s(*limit_ms))
            }
            LongestTalkOver {
                longest_ms,
                limit_ms,
            } => format!("最长抢话 {}，阈值 {}", s(*longest_ms), s(*limit_ms)),
        }
    }
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;
