use super::*;

const INVITE: &str = "INVITE sip:4008@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Caller, A\" <sip:1000@127.0.0.1:5070>;tag=abc\r\n\
To: <sip:4008@127.0.0.1:5060>\r\n\
Call-ID: c1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1000@127.0.0.1:5070>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

/// `INVITE` with its Content-Length line replaced by `lines`.
fn invite_with(lines: &str) -> String {
    INVITE.replace("Content-Length: 4\r\n", lines)
}

#[test]
fn stream_frame_counts_headers_and_body() {
    let msg = INVITE.as_bytes();
    assert_eq!(stream_frame_len(msg), Ok(Some(msg.len())));
    assert_eq!(stream_frame_len(&msg[..msg.len() - 1]), Ok(None));
    let mut two = msg.to_vec();
    two.extend_from_slice(b"OPTIONS");
    assert_eq!(stream_frame_len(&two), Ok(Some(msg.len())));
}

#[test]
fn a_double_crlf_is_a_frame_of_its_own_and_half_of_one_waits() {
    assert_eq!(stream_frame_len(b"\r\n\r\nINVITE"), Ok(Some(4)));
    assert_eq!(stream_frame_len(b"\r\n\r\n"), Ok(Some(4)));
    assert_eq!(stream_frame_len(b"\r\n\r\n\r\n\r\n"), Ok(Some(4)));
    assert_eq!(stream_frame_len(b"\r\n\r"), Ok(None));
    assert_eq!(stream_frame_len(b"\r\n"), Ok(None));
    assert_eq!(stream_frame_len(b"\r\nINVITE"), Ok(Some(2)));
    // Bare LFs are no ping and no prefix of one: handed over (and ignored) at once.
    assert_eq!(stream_frame_len(b"\n\n"), Ok(Some(2)));
    assert_eq!(stream_frame_len(b""), Ok(None));
}

#[test]
fn a_keep_alive_split_across_reads_comes_out_whole() {
    let mut framer = StreamFramer::new();
    framer.extend(b"\r\n");
    assert_eq!(framer.next_frame(), Ok(None));
    assert!(!framer.in_message());
    framer.extend(b"\r\n");
    assert_eq!(framer.next_frame(), Ok(Some(b"\r\n\r\n".to_vec())));
    assert_eq!(framer.next_frame(), Ok(None));
}

#[test]
fn a_message_arriving_a_byte_at_a_time_is_framed_once_whole() {
    let mut framer = StreamFramer::new();
    let msg = INVITE.as_bytes();
    for (i, byte) in msg.iter().enumerate() {
        framer.extend(std::slice::from_ref(byte));
        let frame = framer.next_frame().unwrap();
        if i + 1 < msg.len() {
            assert_eq!(frame, None, "after {} bytes", i + 1);
            assert!(framer.in_message());
        } else {
            assert_eq!(frame.as_deref(), Some(msg));
        }
    }
    assert!(!framer.in_message());
    assert!(framer.buffered().is_empty());
}

#[test]
fn two_messages_in_one_read_come_out_one_after_the_other() {
    let mut framer = StreamFramer::new();
    framer.extend(format!("{INVITE}\r\n\r\n{INVITE}").as_bytes());
    assert_eq!(
        framer.next_frame().unwrap().as_deref(),
        Some(INVITE.as_bytes())
    );
    assert_eq!(
        framer.next_frame().unwrap().as_deref(),
        Some(&b"\r\n\r\n"[..])
    );
    assert_eq!(
        framer.next_frame().unwrap().as_deref(),
        Some(INVITE.as_bytes())
    );
    assert_eq!(framer.next_frame(), Ok(None));
}

#[test]
fn a_message_without_content_length_on_a_stream_is_refused() {
    let msg = invite_with("");
    assert_eq!(
        stream_frame_len(msg.as_bytes()),
        Err(FrameError::MissingContentLength)
    );
}

#[test]
fn duplicate_content_lengths_are_refused_whether_equal_or_not() {
    for lines in [
        "Content-Length: 4\r\nContent-Length: 4\r\n",
        "Content-Length: 0\r\nContent-Length: 4\r\n",
        "l: 4\r\nContent-Length: 4\r\n",
        "content-length : 4\r\nCONTENT-LENGTH:0\r\n",
    ] {
        assert_eq!(
            stream_frame_len(invite_with(lines).as_bytes()),
            Err(FrameError::DuplicateContentLength),
            "{lines:?}"
        );
    }
    // The compact form alone counts as the one Content-Length.
    let compact = invite_with("l: 4\r\n");
    assert_eq!(
        stream_frame_len(compact.as_bytes()),
        Ok(Some(compact.len()))
    );
}

#[test]
fn content_length_must_be_digits() {
    for value in ["lots", "-1", "4 4", "+4", "", "99999999999999999999"] {
        let msg = invite_with(&format!("Content-Length: {value}\r\n"));
        assert!(
            matches!(
                stream_frame_len(msg.as_bytes()),
                Err(FrameError::InvalidContentLength(_))
            ),
            "{value:?}"
        );
    }
}

#[test]
fn a_message_over_64_kib_is_refused_as_soon_as_its_header_is_in() {
    let head = invite_with("Content-Length: 1048576\r\n");
    let head = &head[..head.len() - 4]; // without INVITE's own body
    assert_eq!(
        stream_frame_len(head.as_bytes()),
        Err(FrameError::BodyTooLarge(1_048_576))
    );
    // The largest that fits: header section, empty line and body together 65,535 bytes.
    let base = invite_with("Content-Length: 00000\r\n");
    let head_len = base.len() - 4;
    let fits = MAX_STREAM_MESSAGE_BYTES - head_len;
    let at_limit = invite_with(&format!("Content-Length: {fits:05}\r\n"));
    assert_eq!(stream_frame_len(&at_limit.as_bytes()[..head_len]), Ok(None));
    let over = invite_with(&format!("Content-Length: {:05}\r\n", fits + 1));
    assert_eq!(
        stream_frame_len(&over.as_bytes()[..head_len]),
        Err(FrameError::BodyTooLarge(fits + 1))
    );
}

#[test]
fn a_header_section_without_end_is_refused_at_the_message_cap() {
    let mut big = b"INVITE sip:a SIP/2.0\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', MAX_HEADER_BYTES - big.len() - 1));
    assert_eq!(stream_frame_len(&big), Ok(None));
    big.push(b'x');
    assert_eq!(stream_frame_len(&big), Err(FrameError::HeadersTooLarge));
}

#[test]
fn folded_lines_are_not_headers_of_their_own() {
    let msg = invite_with("Subject: a\r\n Content-Length: 9\r\nContent-Length: 4\r\n");
    assert_eq!(stream_frame_len(msg.as_bytes()), Ok(Some(msg.len())));
}

#[test]
fn the_refusal_copies_the_request_headers_and_tags_the_to() {
    let received = invite_with("Content-Length: 0\r\nContent-Length: 200\r\n");
    let refusal = stream_refusal(
        received.as_bytes(),
        &FrameError::DuplicateContentLength,
        "t1",
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(refusal).unwrap(),
        "SIP/2.0 400 Duplicate Content-Length\r\n\
Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n\
From: \"Caller, A\" <sip:1000@127.0.0.1:5070>;tag=abc\r\n\
To: <sip:4008@127.0.0.1:5060>;tag=t1\r\n\
Call-ID: c1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Server: hotline\r\n\
Content-Length: 0\r\n\r\n"
    );
}

#[test]
fn the_refusal_status_follows_the_error() {
    let received = invite_with("");
    let status = |error: FrameError| {
        let text = stream_refusal(received.as_bytes(), &error, "t").unwrap();
        String::from_utf8(text)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        status(FrameError::MissingContentLength),
        "SIP/2.0 400 Missing Content-Length"
    );
    assert_eq!(
        status(FrameError::BodyTooLarge(1 << 20)),
        "SIP/2.0 413 Request Entity Too Large"
    );
    assert_eq!(
        status(FrameError::HeadersTooLarge),
        "SIP/2.0 513 Message Too Large"
    );
    assert_eq!(
        status(FrameError::InvalidContentLength("x".into())),
        "SIP/2.0 400 Bad Content-Length"
    );
}

#[test]
fn the_refusal_keeps_an_existing_to_tag_and_reads_compact_headers() {
    let received = "BYE sip:a@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/TCP h;branch=z9hG4bK-2\r\n\
v: SIP/2.0/TCP p;branch=z9hG4bK-1\r\nf: <sip:b@h>;tag=1\r\nt: <sip:a@h>;tag=2\r\n\
i: x\r\nCSeq: 7 BYE\r\n\r\n";
    let refusal = stream_refusal(received.as_bytes(), &FrameError::MissingContentLength, "t9")
        .map(|r| String::from_utf8(r).unwrap())
        .unwrap();
    assert!(refusal.contains(
        "Via: SIP/2.0/TCP h;branch=z9hG4bK-2\r\nVia: SIP/2.0/TCP p;branch=z9hG4bK-1\r\n"
    ));
    assert!(refusal.contains("\r\nTo: <sip:a@h>;tag=2\r\n"), "{refusal}");
    assert!(
        refusal.contains("\r\nCall-ID: x\r\nCSeq: 7 BYE\r\n"),
        "{refusal}"
    );
}

#[test]
fn no_refusal_for_acks_responses_incomplete_headers_or_control_characters() {
    let error = FrameError::MissingContentLength;
    let ack = INVITE.replacen("INVITE sip", "ACK sip", 1);
    assert_eq!(stream_refusal(ack.as_bytes(), &error, "t"), None);
    let response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK-1\r\n\r\n";
    assert_eq!(stream_refusal(response.as_bytes(), &error, "t"), None);
    let without_cseq = INVITE.replace("CSeq: 1 INVITE\r\n", "");
    assert_eq!(stream_refusal(without_cseq.as_bytes(), &error, "t"), None);
    let escape = INVITE.replace("Call-ID: c1", "Call-ID: c1\x1b[2J");
    assert_eq!(stream_refusal(escape.as_bytes(), &error, "t"), None);
    // A header line still arriving is not copied: without its CSeq the request has none.
    let cut = &INVITE[..INVITE.find("CSeq").unwrap() + 3];
    assert_eq!(stream_refusal(cut.as_bytes(), &error, "t"), None);
}
