#!/bin/sh
# Regenerates the shipped prompt set. The WAV files are committed, so this only needs to run
# when a wording changes: `sh prompts/generate.sh` from the repository root regenerates
# everything, `sh prompts/generate.sh moh beep` only the prompts named (in both languages).
#
# Mandarin uses the `cmn-latn-pinyin` voice: espeak-ng 1.51's plain `cmn` voice turns the
# characters into pinyin and then reads the tone numbers in English ("le five"), which no
# caller would understand. Speed 240 keeps the welcome greeting near 4 s (standard S2 allows 10).
# Output is 8 kHz mono 16-bit PCM: the switch plays G.711 at 8 kHz anyway, and it keeps the
# repository small.
#
# `sox -D` turns dithering off so the same text gives the same file (files made before it
# differ from a rerun in their lowest bit only).
#
# Prompts that carry a number are split around it so the switch can play
# `<prompt> digit_N minutes`, e.g. hold + digit_3 + minutes + thanks_patience.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
only=" $* "

# wanted NAME: true when NAME is to be (re)generated in this run.
wanted() {
    [ "$only" = "  " ] || case $only in *" $1 "*) true ;; *) false ;; esac
}

# say LANG NAME TEXT [TEXT2]: TEXT2 (optional) is English appended after Mandarin text,
# for the "For English, press 9" line of the Mandarin main menu.
say() {
    lang=$1 name=$2 text=$3
    wanted "$name" || return 0
    mkdir -p "$lang"
    case $lang in
        zh) espeak-ng -v cmn-latn-pinyin -s 240 -w "$tmp/a.wav" "$text" ;;
        en) espeak-ng -v en -s 165 -w "$tmp/a.wav" "$text" ;;
    esac
    if [ $# -ge 4 ]; then
        espeak-ng -v en -s 165 -w "$tmp/b.wav" "$4"
        sox -D -G "$tmp/a.wav" "$tmp/b.wav" -r 8000 -c 1 -b 16 -e signed-integer "$lang/$name.wav"
    else
        sox -D -G "$tmp/a.wav" -r 8000 -c 1 -b 16 -e signed-integer "$lang/$name.wav"
    fi
}

say zh recording_notice "為了提升服務質量,您的通話可能會被錄音。"
say en recording_notice "To improve our service, your call may be recorded."
say zh welcome "您好,感謝致電華通科技客戶服務中心,很高興為您服務。"
say en welcome "Hello, thank you for calling the Huatong Technology customer service centre. We are glad to help you."
say zh main_menu "銷售請按1,技術支持請按2,賬戶查詢請按3,人工服務請按0。" "For English, press 9."
say en main_menu "For sales, press 1. For technical support, press 2. For account enquiries, press 3. For an operator, press 0."
say zh invalid "對不起,您的輸入有誤,請重新輸入。"
say en invalid "Sorry, that is not a valid choice. Please try again."
say zh no_input "對不起,我們沒有收到您的輸入。"
say en no_input "Sorry, we did not receive your input."
say zh goodbye "感謝您的來電,如果還有其他問題,歡迎隨時聯系我們。再見。"
say en goodbye "Thank you for calling. If you have any other questions, you are welcome to call us again. Goodbye."
say zh connecting "正在為您轉接,請稍候。"
say en connecting "Connecting you now, please hold."
say zh account_number "請輸入您的8位賬號,以井號鍵結束。"
say en account_number "Please enter your 8-digit account number, followed by the hash key."
say zh account_thanks "謝謝,正在為您查詢。"
say en account_thanks "Thank you. We are looking up your account."
say zh closed "您好,現在是非工作時間。我們的工作時間是週一至週五,上午9點至下午6點。"
say en closed "Our service centre is now closed. Our opening hours are Monday to Friday, 9 a.m. to 6 p.m."
say zh busy "對不起,目前所有線路都忙,請稍後再撥。"
say en busy "Sorry, all our lines are busy. Please call again later."
say zh queue_position "您前面的等候人數為"
say en queue_position "The number of callers ahead of you is"
say zh queue_expected_wait "預計等待時間約為"
say en queue_expected_wait "The expected waiting time is about"
say zh callback_offer "如需保留您的排隊位置並由我們稍後回電,請按1。"
say en callback_offer "To keep your place and have us call you back, press 1."
say zh hold "為了幫您查詢相關信息,需要請您稍等約"
say en hold "To look this up for you, I need to place you on hold for about"
say zh thanks_patience "感謝您的耐心。"
say en thanks_patience "Thank you for your patience."
say zh hold_checkback "感謝您的耐心等待,客服人員馬上回來。"
say en hold_checkback "Thank you for waiting. Your agent will be back with you shortly."
say zh hold_return "感謝您的耐心等待。"
say en hold_return "Thank you for waiting."
say zh transfer "您的問題需要由相關部門的同事為您處理,現在為您轉接,預計等待"
say en transfer "Your question needs a colleague from another department. I am transferring you now. The expected wait is about"
say zh transfer_no_repeat "您無需重複說明。"
say en transfer_no_repeat "You will not need to explain again."
say zh minutes "分鐘。"
say en minutes "minutes."

# Hold reasons (issue 8): each opens "<reason> digit_N minutes thanks_patience"; `hold`
# above is the "looking something up" reason. The overrun starts the fresh estimate the
# same way: "hold_overrun digit_N minutes thanks_patience".
say zh hold_colleague "為了向相關同事確認,需要請您稍等約"
say en hold_colleague "To check this with a colleague, I need to place you on hold for about"
say zh hold_system "為了在系統中為您核實,需要請您稍等約"
say en hold_system "To check this in our system, I need to place you on hold for about"
say zh hold_overrun "對不起,讓您久等了,還需要大約"
say en hold_overrun "Sorry to keep you waiting. It will take about another"

# Transfer explanation with a department:
# "transfer_to dept_X transfer_colleague digit_N minutes transfer_no_repeat"
# (without a department: "transfer digit_N minutes transfer_no_repeat").
say zh transfer_to "您的問題需要由"
say en transfer_to "Your question needs a colleague from"
say zh transfer_colleague "的同事為您處理,現在為您轉接,預計等待"
say en transfer_colleague "who will help you. I am transferring you now. The expected wait is about"
# Departments a queue serves ([queue.NAME] department = "dept_..."), said in the middle.
say zh dept_sales "銷售部"
say en dept_sales "the sales department"
say zh dept_support "技術支持部"
say en dept_support "technical support"
say zh dept_accounts "賬戶部"
say en dept_accounts "the accounts department"
say zh dept_operator "客戶服務部"
say en dept_operator "customer service"
# When a transfer was not answered, and when an agent's phone dropped the call.
say zh transfer_recall "對不起,同事暫時無法接聽,現在為您轉回原客服人員。"
say en transfer_recall "Sorry, my colleague could not take your call. I am bringing you back to your agent."
say zh transfer_requeue "對不起,同事暫時無法接聽,我們正在為您安排其他客服人員,您無需重複說明。"
say en transfer_requeue "Sorry, my colleague could not take your call. We are finding you another agent; you will not need to explain again."
say zh reconnect_apology "對不起,通話中斷了,正在為您重新接通,您無需重複說明。"
say en reconnect_apology "Sorry, we were cut off. We are connecting you to an agent again; you will not need to explain again."

say zh queue_first "您是下一位。"
say en queue_first "You are next in line."
say zh less_than_a_minute "不到一分鐘。"
say en less_than_a_minute "less than a minute."
say zh callback_confirmed "好的,我們已為您保留排隊位置,稍後會回電給您。感謝您的來電,再見。"
say en callback_confirmed "Thank you. We have kept your place in the queue and will call you back. Goodbye."
say zh voicemail_offer "對不起,客服人員都在忙,請在提示音後留言。"
say en voicemail_offer "Sorry, all our agents are busy. Please leave a message after the tone."

# Heard by the agent, not the caller, in the moment before the call is connected: short.
say zh whisper_sales "銷售來電"
say en whisper_sales "Sales call"
say zh whisper_support "技術支持來電"
say en whisper_support "Support call"
say zh whisper_accounts "賬戶查詢來電"
say en whisper_accounts "Accounts call"
say zh whisper_operator "人工服務來電"
say en whisper_operator "Operator call"
# Told to the agent after the queue's whisper when the caller is in a priority tier:
# whisper_tier_<TIER> (optional per tier).
say zh whisper_tier_vip "貴賓客戶"
say en whisper_tier_vip "V I P caller"
say zh whisper_tier_gold "金卡客戶"
say en whisper_tier_gold "Gold caller"
# Whispers of issue 8: a transferred, returned or reconnected caller, a verified account,
# the hold reason the previous agent gave (whisper_hold_<REASON>), and the reminder to an
# agent whose caller has been on hold too long ("whisper_hold_reminder digit_N minutes").
say zh whisper_transferred "轉接來電"
say en whisper_transferred "Transferred call"
say zh whisper_verified "賬戶已驗證"
say en whisper_verified "Account verified"
say zh whisper_recall "轉回來電"
say en whisper_recall "Call returned to you"
say zh whisper_reconnect "中斷重接來電"
say en whisper_reconnect "Reconnected caller"
say zh whisper_hold_lookup "查詢信息"
say en whisper_hold_lookup "Looked up information"
say zh whisper_hold_colleague "諮詢同事"
say en whisper_hold_colleague "Consulted a colleague"
say zh whisper_hold_system "核實系統"
say en whisper_hold_system "Checked the system"
say zh whisper_hold_reminder "客戶已等待"
say en whisper_hold_reminder "Caller on hold for"

# Feature code confirmations, heard on the agent's desk phone.
say zh agent_logged_in "您已登錄,可以接聽來電。"
say en agent_logged_in "You are logged in and ready for calls."
say zh agent_logged_out "您已退出登錄。"
say en agent_logged_out "You are logged out."
say zh agent_ready "您已就緒,可以接聽來電。"
say en agent_ready "You are ready for calls."
say zh agent_not_ready "您已暫停接聽來電。"
say en agent_not_ready "You are not ready. No calls will be offered to you."

# beep: the voicemail tone, 0.4 s of 1 kHz with 10 ms ramps so it does not click.
if wanted beep; then
    mkdir -p zh en
    sox -D -n -r 8000 -c 1 -b 16 -e signed-integer zh/beep.wav synth 0.4 sine 1000 fade 0.01 0.4 0.01 vol -6dB
    cp zh/beep.wav en/beep.wav
fi

# confirm_tone: the agent's in-call key sequence was taken (a hold reason chosen): two short
# 1.2 kHz beeps, 0.3 s in all, with 5 ms ramps; the same in every language.
if wanted confirm_tone; then
    mkdir -p zh en
    sox -D -n -r 8000 -c 1 "$tmp/cbeep.wav" synth 0.1 sine 1200 fade 0.005 0.1 0.005 vol -6dB
    sox -D -n -r 8000 -c 1 "$tmp/cgap.wav" trim 0 0.1
    sox -D "$tmp/cbeep.wav" "$tmp/cgap.wav" "$tmp/cbeep.wav" -r 8000 -c 1 -b 16 \
        -e signed-integer zh/confirm_tone.wav
    cp zh/confirm_tone.wav en/confirm_tone.wav
fi

# ringback: what a transferred caller hears while an extension rings, 450 Hz 1 s on, 4 s
# off (the Chinese ringing tone, GB 3380), played in a loop; the same in every language.
if wanted ringback; then
    mkdir -p zh en
    sox -D -n -r 8000 -c 1 "$tmp/ring.wav" synth 1 sine 450 fade 0.01 1 0.01 vol -8dB
    sox -D "$tmp/ring.wav" -r 8000 -c 1 -b 16 -e signed-integer zh/ringback.wav pad 0 4
    cp zh/ringback.wav en/ringback.wav
fi

# moh: music on hold, a gentle 20 s loop with no words, the same in every language. Eight
# chords of 2.5 s (C Am F G C Am Dm G: it ends where it can start again) as soft sine pads,
# each with a plucked two-note melody on top; faded in and out so the loop point is silent.
if wanted moh; then
    mkdir -p zh en
    n=0
    for chord in "C4 E4 G4:E5 G5" "A3 C4 E4:C5 E5" "F3 A3 C4:A4 C5" "G3 B3 D4:B4 D5" \
        "C4 E4 G4:G5 E5" "A3 C4 E4:E5 C5" "D4 F4 A4:F5 D5" "G3 B3 D4:D5 B4"; do
        pad=${chord%%:*} melody=${chord#*:}
        set -- $pad
        sox -D -r 8000 -c 3 -n "$tmp/pad.wav" synth 2.5 sine "$1" sine "$2" sine "$3" \
            remix - fade q 0.4 2.5 0.8 vol 0.35
        set -- $melody
        sox -D -n -r 8000 -c 1 "$tmp/m1.wav" synth 1.25 pluck "$1" fade 0.01 1.25 0.4 vol 0.3
        sox -D -n -r 8000 -c 1 "$tmp/m2.wav" synth 1.25 pluck "$2" fade 0.01 1.25 0.4 vol 0.3
        sox -D "$tmp/m1.wav" "$tmp/m2.wav" "$tmp/mel.wav"
        sox -D -m "$tmp/pad.wav" "$tmp/mel.wav" "$tmp/chord_$n.wav"
        n=$((n + 1))
    done
    sox -D "$tmp"/chord_?.wav -r 8000 -c 1 -b 16 -e signed-integer zh/moh.wav \
        fade t 1 20 1.5 norm -8
    cp zh/moh.wav en/moh.wav
fi

set -- 零 一 二 三 四 五 六 七 八 九
for n in 0 1 2 3 4 5 6 7 8 9; do
    say zh "digit_$n" "$1"
    shift
done
set -- zero one two three four five six seven eight nine
for n in 0 1 2 3 4 5 6 7 8 9; do
    say en "digit_$n" "$1"
    shift
done

for f in zh/*.wav en/*.wav; do
    printf '%-32s %s s\n' "$f" "$(soxi -D "$f")"
done
