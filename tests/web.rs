//! The QA pages (issue 9) against a real `hotline serve --http 127.0.0.1:0`: users added with
//! `hotline users add` (password on stdin), sign-in, the call list's filters, the call page,
//! the recording served with HTTP Range (the exact bytes), 401 without a session, 404 for an
//! agent asking for another agent's call, 403 for a form without its CSRF token, and the
//! limit on failed sign-ins.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::web::{
    add_user, csrf_of, device_cookie_set, get, request, seed_call, seed_call_in_queue,
    sets_a_session, sign_in, sign_in_form, try_sign_in, try_sign_in_from, try_sign_in_holding,
};
use common::{PortBlock, ServeOptions, Switch};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn start() -> (Switch, SocketAddr) {
    let switch = Switch::start(PortBlock::reserve());
    let http = switch.http.expect("http= in the ready line");
    (switch, http)
}

/// A reviewer (rita, "rita-password-1") and a supervisor (sam, "sam-password-1").
fn add_rita_and_sam(data: &std::path::Path) {
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    add_user(data, "sam", "supervisor", None, "sam-password-1");
}

#[test]
fn a_reviewer_finds_yesterdays_calls_by_agent_and_the_player_gets_the_exact_bytes_it_asks_for() {
    let (switch, http) = start();
    let data = switch.data.path();
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    let alice = seed_call(data, "call-alice-1", "alice", DAY);
    let _bob = seed_call(data, "call-bob-1", "bob", DAY);
    let _old = seed_call(data, "call-alice-old", "alice", 3 * DAY);
    let cookie = sign_in(http, "rita", "rita-password-1");

    // Click one: yesterday. Its page links each agent.
    let yesterday = get(http, "/calls?day=yesterday", Some(&cookie));
    assert_eq!(yesterday.status, 200);
    let page = yesterday.text();
    assert!(page.contains("data-call=\"call-alice-1\""), "{page}");
    assert!(page.contains("data-call=\"call-bob-1\""));
    assert!(!page.contains("data-call=\"call-alice-old\""));
    assert!(
        page.contains("href=\"/calls?day=yesterday&amp;agent=alice\""),
        "{page}"
    );
    // Click two: the agent.
    let by_agent = get(http, "/calls?day=yesterday&agent=alice", Some(&cookie));
    assert_eq!(by_agent.status, 200);
    let page = by_agent.text();
    assert_eq!(page.matches("<tr data-call=").count(), 1, "{page}");
    assert!(page.contains("data-call=\"call-alice-1\""));

    // The call page: player, waveform, the hold marker at 14 s − 2 s on the recording.
    let call = get(http, "/calls/call-alice-1", Some(&cookie));
    assert_eq!(call.status, 200);
    let page = call.text();
    assert!(page.contains("<audio id=\"player\""));
    assert!(page.contains("src=\"/calls/call-alice-1/recording.wav\""));
    assert!(page.contains("<canvas id=\"waveform\""));
    let hold_t = (alice.hold_at_ms - alice.recording_offset_ms) as f64 / 1000.0;
    assert!(
        page.contains(&format!("data-t=\"{hold_t:.3}\" data-kind=\"hold\"")),
        "{page}"
    );
    // The timeline table gives the hold on both clocks: the call's and the player's.
    let hold_row = format!(
        "<tr data-kind=\"hold\"><td>{:.1} s <span class=\"rec-at\">(in the recording 0:{:04.1})</span></td><td>Hold</td>",
        alice.hold_at_ms as f64 / 1000.0,
        hold_t
    );
    assert!(page.contains(&hold_row), "{hold_row}\n{page}");

    let wav = "/calls/call-alice-1/recording.wav";
    let len = alice.wav.len();
    let range = |value: &str| {
        request(
            http,
            "GET",
            wav,
            &[("Cookie", &cookie), ("Range", value)],
            None,
        )
    };
    let part = range("bytes=1000-1999");
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 1000-1999/{len}").as_str())
    );
    assert_eq!(part.header("accept-ranges"), Some("bytes"));
    assert_eq!(part.header("content-type"), Some("audio/wav"));
    assert_eq!(part.body, alice.wav[1000..2000]);
    let open = range(&format!("bytes={}-", len - 5000));
    assert_eq!(open.status, 206);
    assert_eq!(open.body, alice.wav[len - 5000..]);
    let suffix = range("bytes=-100");
    assert_eq!(suffix.status, 206);
    assert_eq!(
        suffix.header("content-range"),
        Some(format!("bytes {}-{}/{len}", len - 100, len - 1).as_str())
    );
    assert_eq!(suffix.body, alice.wav[len - 100..]);
    let beyond = range(&format!("bytes={len}-"));
    assert_eq!(beyond.status, 416);
    assert_eq!(
        beyond.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    let whole = get(http, wav, Some(&cookie));
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, alice.wav);

    // The waveform's peaks: both channels, 28 s at 8 kHz.
    let peaks = get(
        http,
        "/calls/call-alice-1/peaks.json?buckets=500",
        Some(&cookie),
    );
    assert_eq!(peaks.status, 200);
    let peaks: serde_json::Value = serde_json::from_slice(&peaks.body).expect("peaks JSON");
    assert_eq!(peaks["frames"], 28 * 8000);
    assert_eq!(peaks["duration_ms"], 28_000);
    assert_eq!(peaks["channels"][0]["name"], "caller_said");
    assert_eq!(peaks["channels"][1]["name"], "caller_heard");
    assert_eq!(
        peaks["channels"][0]["max"].as_array().map(Vec::len),
        Some(500)
    );
    // 448 frames a bucket: the left ramp 7·i − 10000 peaks at i = 447, the right is its negation.
    assert_eq!(peaks["frames_per_bucket"], 448);
    assert_eq!(peaks["channels"][0]["min"][0], -10_000);
    assert_eq!(peaks["channels"][0]["max"][0], 7 * 447 - 10_000);
    assert_eq!(peaks["channels"][1]["min"][0], 10_000 - 7 * 447);

    // The export: the record as JSON, the WAV as a download.
    let export = get(http, "/calls/call-alice-1/export.json", Some(&cookie));
    assert_eq!(export.status, 200);
    let export: serde_json::Value = serde_json::from_slice(&export.body).expect("export JSON");
    assert_eq!(export["call"]["id"], "call-alice-1");
    assert_eq!(export["call"]["agent"], "alice");
    assert_eq!(export["call"]["recording"]["offset_ms"], 2_000);
    let download = get(
        http,
        "/calls/call-alice-1/recording.wav?download=1",
        Some(&cookie),
    );
    assert_eq!(
        download.header("content-disposition"),
        Some("attachment; filename=\"call-alice-1.wav\"")
    );
    assert_eq!(download.body.len(), len);

    // In Chinese the timeline, the markers and the flags' evidence read in Chinese; the
    // ids stay in data-kind, and the export keeps its English ids and evidence.
    let zh_cookie = format!("{cookie}; hotline_lang=zh");
    let zh = get(http, "/calls/call-alice-1", Some(&zh_cookie)).text();
    assert!(
        zh.contains("data-kind=\"hold\"><td>14.0 s") && zh.contains("<td>保留</td>"),
        "{zh}"
    );
    assert!(zh.contains("<span>坐席接听</span>"), "{zh}");
    assert!(!zh.contains(">agent_answered<") && !zh.contains("agent_answered event:"));
    assert!(
        zh.contains("坐席接听事件：alice 从队列 general 接听"),
        "{zh}"
    );
    let zh_export = get(http, "/calls/call-alice-1/export.json", Some(&zh_cookie));
    let zh_export: serde_json::Value =
        serde_json::from_slice(&zh_export.body).expect("export JSON");
    assert_eq!(zh_export, export);
    assert!(zh_export["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["evidence"]
            .as_str()
            .unwrap()
            .starts_with("agent_answered event: alice answered from general")));
}

#[test]
fn agents_are_named_from_the_desk_phone_list_and_the_pickers_offer_what_the_calls_have() {
    let (switch, http) = start();
    let data = switch.data.path();
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    // a1001 is 王芳 and a1004 Emily Chen in hardware/phones.toml; "gone" is in no list.
    seed_call(data, "call-wang", "a1001", DAY);
    seed_call(data, "call-emily", "a1004", DAY);
    seed_call(data, "call-gone", "gone", DAY);
    let cookie = sign_in(http, "rita", "rita-password-1");

    let page = get(http, "/calls?day=yesterday", Some(&cookie)).text();
    // The by-agent links and the agent column name the person, with the id.
    assert!(
        page.contains("data-agent=\"a1001\">王芳 (a1001)</a>"),
        "{page}"
    );
    assert!(page.contains("data-agent=\"a1004\">Emily Chen (a1004)</a>"));
    assert!(page.contains("data-agent=\"gone\">gone</a>"));
    let wang_row = page
        .split("<tr data-call=\"call-wang\">")
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("call-wang's row");
    assert!(wang_row.contains("<td>王芳 (a1001)</td>"), "{wang_row}");
    // Pickers, not free text: each offers "all" and the values the calls carry.
    assert!(
        page.contains(
            "<select name=\"agent\" id=\"pick-agent\"><option value=\"\">All</option>\
             <option value=\"a1001\">王芳 (a1001)</option>\
             <option value=\"a1004\">Emily Chen (a1004)</option>\
             <option value=\"gone\">gone</option></select>"
        ),
        "{page}"
    );
    assert!(page.contains(
        "<select name=\"hotline\" id=\"pick-hotline\"><option value=\"\">All</option>\
         <option value=\"support\">support</option></select>"
    ));
    assert!(page.contains(
        "<select name=\"queue\" id=\"pick-queue\"><option value=\"\">All</option>\
         <option value=\"general\">general</option></select>"
    ));
    assert!(!page.contains("<input name=\"agent\""));

    // A name typed into the address (or a bookmark) finds that agent's calls.
    let by_name = get(
        http,
        "/calls?day=yesterday&agent=%E7%8E%8B%E8%8A%B3",
        Some(&cookie),
    )
    .text();
    assert_eq!(by_name.matches("<tr data-call=").count(), 1, "{by_name}");
    assert!(by_name.contains("data-call=\"call-wang\""));
    assert!(by_name.contains("<option value=\"a1001\" selected>王芳 (a1001)</option>"));
    // A chosen value no call has stays in its picker, selected, and the list is empty.
    let none = get(http, "/calls?day=yesterday&queue=nosuch", Some(&cookie)).text();
    assert!(
        none.contains("<option value=\"nosuch\" selected>nosuch</option>"),
        "{none}"
    );
    assert_eq!(none.matches("<tr data-call=").count(), 0);

    // Totals name the agent too.
    let call_page = get(http, "/calls/call-wang", Some(&cookie)).text();
    let form = score_form(&call_page, &csrf_of(&call_page), "");
    let saved = request(
        http,
        "POST",
        "/calls/call-wang/score",
        &[("Cookie", &cookie)],
        Some(&form),
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    let totals = get(http, "/totals", Some(&cookie)).text();
    assert!(
        totals.contains("<a href=\"/calls?agent=a1001\">王芳 (a1001)</a>"),
        "{totals}"
    );
}

/// A request the pages cannot read gets the site's page in the reader's language, never the
/// framework's own English ("Invalid URL", "Failed to deserialize").
#[test]
fn requests_the_pages_cannot_read_are_answered_in_the_sites_words() {
    let (switch, http) = start();
    let data = switch.data.path();
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    seed_call(data, "call-r", "alice", DAY);
    let cookie = sign_in(http, "rita", "rita-password-1");
    let framework = [
        "Invalid URL",
        "Failed to deserialize",
        "Cannot parse",
        "Content-Type",
    ];
    let in_site_words = |reply: &common::web::Reply, sentence: &str| {
        let text = reply.text();
        assert!(text.contains(sentence), "{text}");
        for words in framework {
            assert!(!text.contains(words), "{text}");
        }
        text
    };

    let nowhere = get(http, "/nowhere", None);
    assert_eq!(nowhere.status, 404);
    let page = in_site_words(&nowhere, "There is no page at this address.");
    assert!(page.contains("<html lang=\"en\">") && page.contains("href=\"/calls\""));
    let chinese = request(
        http,
        "GET",
        "/nowhere",
        &[("Accept-Language", "zh-CN")],
        None,
    );
    in_site_words(&chinese, "此地址没有页面。");

    let not_text = get(http, "/calls/%ff", Some(&cookie));
    assert_eq!(not_text.status, 404);
    in_site_words(
        &not_text,
        "There is no such call, or it is not one you may see.",
    );
    let not_text = get(http, "/calls/%ff/recording.wav", Some(&cookie));
    assert_eq!(not_text.status, 404);

    for bad in ["-1", "abc", "0"] {
        let peaks = get(
            http,
            &format!("/calls/call-r/peaks.json?buckets={bad}"),
            Some(&cookie),
        );
        assert_eq!(peaks.status, 400, "buckets={bad}");
        in_site_words(&peaks, "buckets is a whole number, 1 or more.");
    }
    let many = get(
        http,
        "/calls/call-r/peaks.json?buckets=99999",
        Some(&cookie),
    );
    assert_eq!(many.status, 200, "more than drawn is drawn at the most");

    let half_a_form = request(http, "POST", "/signin", &[], Some("name=rita"));
    assert_eq!(half_a_form.status, 422);
    in_site_words(
        &half_a_form,
        "The form could not be read. Open its page again and send it from there.",
    );
}

#[test]
fn without_a_session_recordings_and_json_answer_401_and_pages_go_to_sign_in() {
    let (switch, http) = start();
    seed_call(switch.data.path(), "call-x", "alice", DAY);
    for path in [
        "/calls/call-x/recording.wav",
        "/calls/call-x/peaks.json",
        "/calls/call-x/export.json",
    ] {
        assert_eq!(get(http, path, None).status, 401, "{path}");
        let forged = format!("hotline_session={}", "a".repeat(64));
        assert_eq!(get(http, path, Some(&forged)).status, 401, "{path} forged");
    }
    let page = get(http, "/calls/call-x", None);
    assert_eq!(page.status, 303);
    assert_eq!(
        page.header("location"),
        Some("/signin?next=%2Fcalls%2Fcall-x")
    );
    let list = get(http, "/calls?day=yesterday", None);
    assert_eq!(list.status, 303);
    assert_eq!(
        list.header("location"),
        Some("/signin?next=%2Fcalls%3Fday%3Dyesterday")
    );
}

#[test]
fn an_agent_sees_only_their_own_calls_and_gets_404_for_another_agents() {
    let (switch, http) = start();
    let data = switch.data.path();
    add_user(data, "alice", "agent", Some("alice"), "alice-password-1");
    seed_call(data, "call-alice-2", "alice", DAY);
    seed_call_in_queue(data, "call-bob-2", "bob", DAY, "vip");
    let cookie = sign_in(http, "alice", "alice-password-1");
    let list = get(http, "/calls", Some(&cookie)).text();
    assert!(list.contains("data-call=\"call-alice-2\""), "{list}");
    assert!(!list.contains("call-bob-2"));
    // Her pickers offer what her calls carry: no agent picker, nothing of bob's calls.
    assert!(list.contains(
        "<select name=\"queue\" id=\"pick-queue\"><option value=\"\">All</option>\
         <option value=\"general\">general</option></select>"
    ));
    assert!(!list.contains("pick-agent") && !list.contains("bob") && !list.contains("vip"));
    // Asking for bob's calls by filter shows none either.
    let filtered = get(http, "/calls?agent=bob", Some(&cookie)).text();
    assert!(!filtered.contains("call-bob-2"));
    for path in [
        "/calls/call-bob-2",
        "/calls/call-bob-2/recording.wav",
        "/calls/call-bob-2/peaks.json",
        "/calls/call-bob-2/export.json",
        "/calls/call-bob-2%40seed", // by SIP Call-ID too
    ] {
        assert_eq!(get(http, path, Some(&cookie)).status, 404, "{path}");
    }
    // The page says so in the site's layout, with the way back, and never whose call it is.
    let refused = get(http, "/calls/call-bob-2", Some(&cookie)).text();
    assert!(
        refused.contains("<nav>")
            && refused.contains("There is no such call, or it is not one you may see.")
            && refused.contains("<a href=\"/calls\">Calls</a></p>")
            && !refused.contains("bob"),
        "{refused}"
    );
    assert_eq!(get(http, "/calls/call-alice-2", Some(&cookie)).status, 200);
    assert_eq!(
        get(http, "/calls/call-alice-2/recording.wav", Some(&cookie)).status,
        200
    );
}

#[test]
fn a_form_posted_without_its_csrf_token_gets_403_and_changes_nothing() {
    let (switch, http) = start();
    add_user(
        switch.data.path(),
        "rita",
        "reviewer",
        None,
        "rita-password-1",
    );
    let cookie = sign_in(http, "rita", "rita-password-1");
    let page = get(http, "/calls", Some(&cookie));
    let token = csrf_of(&page.text());
    let post = |body: &str| request(http, "POST", "/signout", &[("Cookie", &cookie)], Some(body));
    assert_eq!(post("").status, 403);
    assert_eq!(post(&format!("csrf={}", "0".repeat(64))).status, 403);
    assert_eq!(
        get(http, "/calls", Some(&cookie)).status,
        200,
        "still signed in"
    );
    let out = post(&format!("csrf={token}"));
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/signin"));
    assert_eq!(get(http, "/calls", Some(&cookie)).status, 303, "signed out");
    assert_eq!(get(http, "/calls/x/peaks.json", Some(&cookie)).status, 401);
}

#[test]
fn five_failed_sign_ins_refuse_even_the_right_password() {
    let (switch, http) = start();
    add_user(
        switch.data.path(),
        "rita",
        "reviewer",
        None,
        "rita-password-1",
    );
    for attempt in 0..5 {
        let reply = try_sign_in(http, "rita", "wrong-password");
        assert_eq!(reply.status, 401, "attempt {attempt}");
        assert!(!sets_a_session(&reply));
    }
    let reply = try_sign_in(http, "rita", "rita-password-1");
    assert_eq!(reply.status, 429);
    assert!(!sets_a_session(&reply));
    // The address is closed for other names too.
    add_user(
        switch.data.path(),
        "sam",
        "supervisor",
        None,
        "sam-password-1",
    );
    assert_eq!(try_sign_in(http, "sam", "sam-password-1").status, 429);
    // 127.0.0.1 is no trusted proxy here: a forwarded-for header of its own changes nothing.
    assert_eq!(
        try_sign_in_from(http, "sam", "sam-password-1", "203.0.113.10").status,
        429
    );
}

/// Behind a reverse proxy named with `--http-trusted-proxy`, failed sign-ins are limited per
/// client address the proxy reports, not per the proxy's one address for everyone; what a
/// client writes in the header itself is not believed.
#[test]
fn behind_a_trusted_proxy_one_clients_failures_do_not_close_the_sign_in_for_the_others() {
    let switch = Switch::start_with_options(
        PortBlock::reserve(),
        None,
        ServeOptions {
            extra_args: vec!["--http-trusted-proxy".into(), "127.0.0.1".into()],
            ..ServeOptions::default()
        },
    );
    let http = switch.http.expect("http= in the ready line");
    add_rita_and_sam(switch.data.path());
    // A stranger behind the proxy guesses at five names (so only its address counts).
    for attempt in 0..5 {
        let reply = try_sign_in_from(http, &format!("guess{attempt}"), "x", "203.0.113.9");
        assert_eq!(reply.status, 401, "attempt {attempt}");
    }
    // That client is refused, even with a right password, also when it writes another
    // address in front of the one the proxy appends...
    assert_eq!(
        try_sign_in_from(http, "sam", "sam-password-1", "203.0.113.9").status,
        429
    );
    let forged = try_sign_in_from(http, "sam", "sam-password-1", "198.51.100.1, 203.0.113.9");
    assert_eq!(forged.status, 429);
    assert!(!sets_a_session(&forged));
    // ...while another client of the same proxy signs in.
    let other = try_sign_in_from(http, "rita", "rita-password-1", "203.0.113.10");
    assert_eq!(other.status, 303, "{}", other.text());
    assert!(sets_a_session(&other));
}

/// A stranger guessing a reviewer's password closes the name (and the address) for everyone
/// else, but not for the browser the reviewer signed in from before: its device cookie
/// counts its own failures only.
#[test]
fn a_strangers_failed_sign_ins_do_not_lock_out_the_browser_a_reviewer_used_before() {
    let (switch, http) = start();
    add_rita_and_sam(switch.data.path());
    // Rita signs in once: her browser is given a device cookie, for /signin only.
    let first = try_sign_in(http, "rita", "rita-password-1");
    assert_eq!(first.status, 303, "{}", first.text());
    let set = device_cookie_set(&first).expect("a device cookie on the first sign-in");
    for attribute in [
        "Path=/signin",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=15552000",
    ] {
        assert!(set.contains(attribute), "{set}");
    }
    let device = set.split(';').next().unwrap().to_string();
    // A stranger's five wrong guesses.
    for attempt in 0..5 {
        let reply = try_sign_in(http, "rita", "guess");
        assert_eq!(reply.status, 401, "attempt {attempt}");
    }
    // Another browser, even with the right password, is refused...
    let other = try_sign_in(http, "rita", "rita-password-1");
    assert_eq!(other.status, 429);
    assert!(!sets_a_session(&other));
    // ...and Rita's own browser is let in, keeping its device cookie.
    let hers = try_sign_in_holding(http, "rita", "rita-password-1", &device);
    assert_eq!(hers.status, 303, "{}", hers.text());
    assert!(sets_a_session(&hers));
    assert_eq!(device_cookie_set(&hers), None);
    // Her device counts for her name only, and a made-up device cookie for nothing.
    assert_eq!(
        try_sign_in_holding(http, "sam", "sam-password-1", &device).status,
        429
    );
    let made_up = format!("hotline_device={}", "a".repeat(64));
    assert_eq!(
        try_sign_in_holding(http, "rita", "rita-password-1", &made_up).status,
        429
    );
    // Wrong passwords from her browser count against it: five, then it is refused too.
    for attempt in 0..5 {
        let reply = try_sign_in_holding(http, "rita", "guess", &device);
        assert_eq!(reply.status, 401, "attempt {attempt}");
    }
    let locked = try_sign_in_holding(http, "rita", "rita-password-1", &device);
    assert_eq!(locked.status, 429);
    assert!(!sets_a_session(&locked));
}

/// Login CSRF: another site's page can post a name and password to /signin, but it cannot
/// read or set the form's cookie, so without the form's own token no session is given.
#[test]
fn a_sign_in_posted_without_the_forms_token_gives_no_session() {
    let (switch, http) = start();
    add_user(
        switch.data.path(),
        "mallory",
        "agent",
        Some("1001"),
        "mallory-password-1",
    );
    let body = |token: &str| format!("csrf={token}&name=mallory&password=mallory-password-1");
    // A cross-site post: no cookie at all.
    let bare = request(http, "POST", "/signin", &[], Some(&body("")));
    assert_eq!(bare.status, 403, "{}", bare.text());
    assert!(!sets_a_session(&bare));
    assert!(
        bare.text().contains("The sign-in form had expired"),
        "{}",
        bare.text()
    );
    // A token of its own that is not the cookie's.
    let (cookie, token) = sign_in_form(http);
    let (_, other) = sign_in_form(http);
    assert_ne!(token, other, "each new form has its own token");
    let forged = request(
        http,
        "POST",
        "/signin",
        &[("Cookie", &cookie)],
        Some(&body(&other)),
    );
    assert_eq!(forged.status, 403);
    assert!(!sets_a_session(&forged));
    // The cookie is HttpOnly, SameSite=Strict and only sent back to /signin.
    let form = get(http, "/signin", None);
    let set = form.header("set-cookie").expect("token cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/signin"),
        "{set}"
    );
    // A token cookie the switch did not make (too short, or not hex) is replaced, not reused.
    for planted in ["abc123".to_string(), "x".repeat(64)] {
        let page = get(http, "/signin", Some(&format!("hotline_signin={planted}")));
        let given = csrf_of(&page.text());
        assert_ne!(given, planted);
        assert!(
            given.len() == 64 && given.bytes().all(|b| b.is_ascii_hexdigit()),
            "{given}"
        );
    }
    let kept = get(http, "/signin", Some(&cookie));
    assert_eq!(
        format!("hotline_signin={}", csrf_of(&kept.text())),
        cookie,
        "ours is kept"
    );
    // The form's own token signs in, and is spent.
    let signed = request(
        http,
        "POST",
        "/signin",
        &[("Cookie", &cookie)],
        Some(&body(&token)),
    );
    assert_eq!(signed.status, 303, "{}", signed.text());
    assert!(sets_a_session(&signed));
    assert!(
        signed
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("hotline_signin=;")),
        "{:?}",
        signed.headers
    );
}

#[test]
fn what_a_request_sends_comes_back_escaped() {
    let (_switch, http) = start();
    let reply = get(
        http,
        "/signin?next=/%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        None,
    );
    assert_eq!(reply.status, 200);
    let page = reply.text();
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(
        page.contains("value=\"/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{page}"
    );
    assert_eq!(
        reply
            .header("content-security-policy")
            .map(|c| c.contains("script-src 'self'")),
        Some(true)
    );
}

/// The reviewer items of a call page's scorecard form, each at full points unless `zero`.
fn score_form(page: &str, csrf: &str, zero: &str) -> String {
    let select = regex::Regex::new(
        r#"<select name="points_([a-z0-9_]+)" required><option value=""(?: selected)?>—</option><option(?: selected)?>(\d+)</option>"#,
    )
    .expect("regex");
    let mut body = format!("csrf={csrf}");
    for found in select.captures_iter(page) {
        let (id, max) = (&found[1], &found[2]);
        let points = if id == zero { "0" } else { max };
        body.push_str(&format!("&points_{id}={points}&comment_{id}=ok"));
    }
    body
}

#[test]
fn a_reviewer_scores_a_call_a_critical_item_zeroes_it_and_the_totals_show_it_while_an_agent_only_views(
) {
    let (switch, http) = start();
    let data = switch.data.path();
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    add_user(data, "alice", "agent", Some("alice"), "alice-password-1");
    seed_call(data, "call-s", "alice", DAY);
    let cookie = sign_in(http, "rita", "rita-password-1");
    let page = get(http, "/calls/call-s", Some(&cookie)).text();
    let csrf = csrf_of(&page);
    let form = score_form(&page, &csrf, "identity_verified");
    assert_eq!(
        form.matches("&points_").count(),
        10,
        "the ten reviewer items: {form}"
    );
    let post = |cookie: &str, body: &str| {
        request(
            http,
            "POST",
            "/calls/call-s/score",
            &[("Cookie", cookie)],
            Some(body),
        )
    };
    // Nothing is scored before the reviewer scores it: every item starts blank.
    assert_eq!(
        page.matches("<option value=\"\" selected>—</option>")
            .count(),
        10,
        "{page}"
    );
    // A form with an item left blank is not saved, and says which item.
    let blank = form.replace("points_greeting_content=10", "points_greeting_content=");
    assert_ne!(blank, form);
    let refused = post(&cookie, &blank);
    assert_eq!(refused.status, 400);
    let why = refused.text();
    assert!(
        why.contains("Not saved: no points chosen for") && why.contains("href=\"/calls\""),
        "{why}"
    );
    let forged = form.replace(&csrf, &"f".repeat(64));
    assert_eq!(post(&cookie, &forged).status, 403);
    assert!(!get(http, "/calls/call-s", Some(&cookie))
        .text()
        .contains("saved-score"));

    let saved = post(&cookie, &form);
    assert_eq!(saved.status, 303, "{}", saved.text());
    assert_eq!(saved.header("location"), Some("/calls/call-s#scorecard"));
    let page = get(http, "/calls/call-s", Some(&cookie)).text();
    assert!(
        page.contains("class=\"saved-score\" data-total=\"0\""),
        "{page}"
    );
    // The reviewer's own scores come back chosen, none blank.
    assert_eq!(page.matches("<option value=\"\" selected>").count(), 0);
    assert_eq!(page.matches("<option selected>0</option>").count(), 1);
    let export: serde_json::Value =
        serde_json::from_slice(&get(http, "/calls/call-s/export.json", Some(&cookie)).body)
            .expect("JSON");
    assert_eq!(export["scores"][0]["reviewer"], "rita");
    assert_eq!(export["scores"][0]["critical_failed"], true);
    assert_eq!(export["scores"][0]["total"], 0);
    assert_eq!(export["scores"].as_array().map(Vec::len), Some(1));

    let totals = get(http, "/totals", Some(&cookie));
    assert_eq!(totals.status, 200);
    let totals = totals.text();
    let row = regex::Regex::new(r#"<tr data-agent="alice" data-week="\d{4}-W\d{2}"><td><a href="/calls\?agent=alice">alice</a></td><td>\d{4}-W\d{2}</td><td>1</td><td>1</td><td>0.0</td><td>1</td></tr>"#)
        .expect("regex");
    assert!(row.is_match(&totals), "{totals}");

    // An agent sees the score, has no form, and cannot post one.
    let agent = sign_in(http, "alice", "alice-password-1");
    let page = get(http, "/calls/call-s", Some(&agent)).text();
    assert!(page.contains("data-total=\"0\""));
    assert!(!page.contains("id=\"score-form\""));
    let agent_csrf = csrf_of(&page);
    let full = score_form(
        &get(http, "/calls/call-s", Some(&cookie)).text(),
        &agent_csrf,
        "",
    );
    assert_eq!(post(&agent, &full).status, 403);
    let refused = get(http, "/totals", Some(&agent));
    assert_eq!(refused.status, 403);
    assert!(refused.text().contains("<nav>"), "{}", refused.text());
}

#[test]
fn the_pages_speak_chinese_when_chosen_or_when_the_browser_asks_and_english_otherwise() {
    let (_switch, http) = start();
    let chosen = get(http, "/lang/zh?back=%2Fsignin", None);
    assert_eq!(chosen.status, 303);
    assert_eq!(chosen.header("location"), Some("/signin"));
    assert_eq!(
        chosen.header("set-cookie"),
        Some("hotline_lang=zh; Path=/; SameSite=Lax; Max-Age=31536000")
    );
    let zh = get(http, "/signin", Some("hotline_lang=zh")).text();
    assert!(
        zh.contains("<html lang=\"zh\">") && zh.contains("<h1>登录</h1>"),
        "{zh}"
    );
    let asked = request(
        http,
        "GET",
        "/signin",
        &[("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")],
        None,
    )
    .text();
    assert!(asked.contains("<h1>登录</h1>"), "{asked}");
    let en = request(
        http,
        "GET",
        "/signin",
        &[("Accept-Language", "zh-CN"), ("Cookie", "hotline_lang=en")],
        None,
    )
    .text();
    assert!(
        en.contains("<html lang=\"en\">") && en.contains("<h1>Sign in</h1>"),
        "{en}"
    );
    // Only paths on this site are ways back.
    let away = get(http, "/lang/en?back=%2F%2Fevil.example%2F", None);
    assert_eq!(away.header("location"), Some("/calls"));
}

/// Someone who leaves is removed: their open session stops working at once and their
/// password no longer signs in; `users list` shows who is left.
#[test]
fn a_removed_user_is_signed_out_at_once_and_cannot_sign_in() {
    let (switch, http) = start();
    let data = switch.data.path();
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    add_user(data, "alice", "agent", Some("1001"), "alice-password-1");
    let users = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg("users")
            .args(args)
            .arg("--data")
            .arg(data)
            .output()
            .expect("run hotline users")
    };
    let listed = users(&["list"]);
    assert!(listed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "alice\tagent\tagent 1001\nrita\treviewer\n"
    );
    let cookie = sign_in(http, "rita", "rita-password-1");
    assert_eq!(get(http, "/calls", Some(&cookie)).status, 200);

    let removed = users(&["remove", "rita"]);
    assert!(removed.status.success(), "{removed:?}");
    assert_eq!(
        String::from_utf8_lossy(&removed.stdout).trim(),
        "user rita removed; their sessions have ended"
    );
    assert_eq!(
        get(http, "/calls", Some(&cookie)).status,
        303,
        "the session ended"
    );
    let again = try_sign_in(http, "rita", "rita-password-1");
    assert_eq!(again.status, 401);
    assert!(!sets_a_session(&again));
    let listed = users(&["list"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "alice\tagent\tagent 1001\n"
    );
    let unknown = users(&["remove", "rita"]);
    assert!(!unknown.status.success());
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr).trim(),
        "there is no user \"rita\""
    );
}

/// An agent user is tied to the id their calls carry: a name from the desk-phone list
/// becomes its id, and an agent nobody has heard of is warned about.
#[test]
fn users_add_takes_an_agents_name_for_its_id_and_warns_of_an_agent_no_call_carries() {
    let data = tempfile::tempdir().expect("tempdir");
    let add = |args: &[&str]| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["users", "add"])
            .args(args)
            .arg("--data")
            .arg(data.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run hotline users add");
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"long-enough-1\n");
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{out:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // hardware/phones.toml (the default --config .): a1001 is 王芳, a1002 李強.
    let (said, warned) = add(&["wang", "--role", "agent", "--agent", "王芳"]);
    assert_eq!(
        said,
        "agent 王芳 is a1001 in ./hardware/phones.toml\nuser wang added (agent)\n"
    );
    assert_eq!(warned, "");
    // Without --agent, the user's own name is looked up.
    let (said, _) = add(&["李強", "--role", "agent"]);
    assert!(said.starts_with("agent 李強 is a1002 in"), "{said}");
    let (_, warned) = add(&["a1003", "--role", "agent"]);
    assert_eq!(warned, "", "an id in the list is fine as it is");
    // An agent no longer in the list but on a recorded call is fine as it is.
    seed_call(data.path(), "call-gone", "gone", DAY);
    let (said, warned) = add(&["g", "--role", "agent", "--agent", "gone"]);
    assert_eq!(
        (said.as_str(), warned.as_str()),
        ("user g added (agent)\n", "")
    );
    let (said, warned) = add(&["x", "--role", "agent", "--agent", "nobody"]);
    assert_eq!(said, "user x added (agent)\n");
    assert!(
        warned.starts_with(
            "warning: agent \"nobody\" is not in ./hardware/phones.toml and no recorded call \
             carries it: this user sees no calls until one does (agents there: 王芳 (a1001), "
        ),
        "{warned}"
    );
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["users", "list", "--data"])
        .arg(data.path())
        .output()
        .expect("users list");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "a1003\tagent\tagent a1003\ng\tagent\tagent gone\nwang\tagent\tagent a1001\nx\tagent\tagent nobody\n李強\tagent\tagent a1002\n"
    );
}

#[test]
fn users_add_refuses_an_unknown_role_and_a_short_password() {
    let data = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str], password: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["users", "add"])
            .args(args)
            .arg("--data")
            .arg(data.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run hotline users add");
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes());
        child.wait_with_output().expect("wait")
    };
    let admin = run(&["root", "--role", "admin"], "long-enough-1");
    assert!(!admin.status.success());
    assert_eq!(
        String::from_utf8_lossy(&admin.stderr).trim(),
        "\"admin\" is not a role: reviewer, supervisor or agent"
    );
    let short = run(&["rita", "--role", "reviewer"], "short");
    assert!(!short.status.success());
    assert_eq!(
        String::from_utf8_lossy(&short.stderr).trim(),
        "a password is at least 8 characters"
    );
    let added = run(&["rita", "--role", "reviewer"], "long-enough-1");
    assert!(added.status.success());
    assert_eq!(
        String::from_utf8_lossy(&added.stdout).trim(),
        "user rita added (reviewer)"
    );
    let again = run(&["rita", "--role", "supervisor"], "long-enough-2");
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "user rita updated (supervisor)"
    );
    // Only the hash is stored.
    let store = hotline::store::Store::open(data.path()).expect("store");
    let user = store.user("rita").expect("read").expect("rita");
    assert!(
        user.password_hash.starts_with("$argon2id$"),
        "{}",
        user.password_hash
    );
    assert!(!user.password_hash.contains("long-enough-2"));
    assert_eq!(user.role, "supervisor");
}

#[test]
fn a_recording_cut_short_by_a_stopped_switch_plays_and_says_so() {
    let (switch, http) = start();
    let data = switch.data.path();
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    let call = seed_call(data, "call-cut", "alice", DAY);
    let store = hotline::store::Store::open(data).expect("store");
    store
        .recording_finished(
            "call-cut",
            &hotline::store::RecordingEnd {
                state: hotline::store::RecordingState::CutShort,
                duration_ms: 28_000,
                sha256: "0".repeat(64),
                lost_ms: 0,
            },
        )
        .expect("cut short");
    let cookie = sign_in(http, "rita", "rita-password-1");
    let page = get(http, "/calls/call-cut", Some(&cookie)).text();
    assert!(
        page.contains("<p class=\"cut-short\">Cut short (the switch stopped)</p>"),
        "{page}"
    );
    assert!(page.contains("<audio id=\"player\""));
    let part = request(
        http,
        "GET",
        "/calls/call-cut/recording.wav",
        &[("Cookie", &cookie), ("Range", "bytes=0-43")],
        None,
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, call.wav[..44]);
}

#[test]
fn a_reviewer_overrides_a_flag_and_the_page_and_export_show_who_decided() {
    let (switch, http) = start();
    let data = switch.data.path();
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    seed_call(data, "call-o", "alice", DAY);
    let cookie = sign_in(http, "rita", "rita-password-1");
    let page = get(http, "/calls/call-o", Some(&cookie)).text();
    let csrf = csrf_of(&page);
    let flag = regex::Regex::new(
        r#"<input type="hidden" name="rule" value="([a-z0-9_]+)"><input type="hidden" name="start_ms" value="(\d+)">"#,
    )
    .expect("regex");
    let found = flag.captures(&page).expect("a flag with an override form");
    let (rule, start) = (found[1].to_string(), found[2].to_string());
    let export: serde_json::Value =
        serde_json::from_slice(&get(http, "/calls/call-o/export.json", Some(&cookie)).body)
            .expect("JSON");
    let before = export["flags"]
        .as_array()
        .and_then(|flags| flags.iter().find(|f| f["rule"] == rule.as_str()).cloned())
        .expect("the flag in the export");
    let decided = if before["passed"] == true { "0" } else { "1" };
    let body = format!("csrf={csrf}&rule={rule}&start_ms={start}&passed={decided}&comment=%3Cb%3Eheard+it%3C%2Fb%3E");
    let saved = request(
        http,
        "POST",
        "/calls/call-o/flags",
        &[("Cookie", &cookie)],
        Some(&body),
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    assert_eq!(saved.header("location"), Some("/calls/call-o#flags"));
    let page = get(http, "/calls/call-o", Some(&cookie)).text();
    assert!(
        page.contains("(Overridden by rita: &lt;b&gt;heard it&lt;/b&gt;)"),
        "{page}"
    );
    let export: serde_json::Value =
        serde_json::from_slice(&get(http, "/calls/call-o/export.json", Some(&cookie)).body)
            .expect("JSON");
    let after = export["flags"]
        .as_array()
        .and_then(|flags| flags.iter().find(|f| f["rule"] == rule.as_str()).cloned())
        .expect("the flag in the export");
    assert_eq!(after["overridden"]["by"], "rita");
    assert_eq!(after["overridden"]["passed"], decided == "1");
    assert_eq!(after["overridden"]["comment"], "<b>heard it</b>");
}

#[test]
fn a_filter_the_list_cannot_use_is_named_on_the_page_not_silently_dropped() {
    let (switch, http) = start();
    let data = switch.data.path();
    add_user(data, "rita", "reviewer", None, "rita-password-1");
    seed_call(data, "call-f", "alice", DAY);
    let cookie = sign_in(http, "rita", "rita-password-1");
    let page = get(
        http,
        "/calls?from=2026-13-45&score_min=%3Cb%3E",
        Some(&cookie),
    )
    .text();
    assert!(
        page.contains("data-filter=\"from\">Not applied: From “2026-13-45” is not a date"),
        "{page}"
    );
    assert!(
        page.contains("data-filter=\"score_min\">Not applied: Score at least “&lt;b&gt;” is not a whole number"),
        "{page}"
    );
    // The rest of the list is still shown, unfiltered by what was not understood.
    assert!(page.contains("call-f"), "{page}");
    let zh = get(
        http,
        "/calls?to=bad",
        Some(&format!("{cookie}; hotline_lang=zh")),
    )
    .text();
    assert!(zh.contains("未应用: 到 “bad” 不是日期"), "{zh}");
    // The header names the reviewer's role in the page's language too.
    assert!(
        zh.contains("<span class=\"who\">rita (质检员)</span>"),
        "{zh}"
    );
}
