//! The SMTP dialogue: reply parsing and the command sequence.

use super::dialogue::{Dialogue, Next, Refused, Reply, ReplyParser, Step};

fn reply(code: u16) -> Reply {
    Reply {
        code,
        text: "ok".into(),
    }
}

fn sent(n: Next) -> String {
    match n {
        Next::Send(s) => s,
        other => panic!("expected a command, got {other:?}"),
    }
}

#[test]
fn a_single_line_reply_has_its_code_and_text() {
    let mut p = ReplyParser::default();
    assert_eq!(
        p.line("220 mx.example.com ESMTP").unwrap(),
        Some(Reply {
            code: 220,
            text: "mx.example.com ESMTP".into()
        })
    );
    assert_eq!(p.line("250").unwrap().unwrap().text, "");
}

#[test]
fn a_multiline_reply_ends_at_the_line_without_a_dash() {
    let mut p = ReplyParser::default();
    assert_eq!(p.line("250-mx.example.com").unwrap(), None);
    assert_eq!(p.line("250-PIPELINING").unwrap(), None);
    let r = p.line("250 8BITMIME").unwrap().unwrap();
    assert_eq!(r.code, 250);
    assert_eq!(r.text, "mx.example.com / PIPELINING / 8BITMIME");
    // The parser starts afresh for the next reply.
    assert_eq!(p.line("354 go ahead").unwrap().unwrap().code, 354);
}

#[test]
fn malformed_reply_lines_are_refused() {
    for bad in ["", "25", "abc hello", "250x", "150 old", "099 low"] {
        let mut p = ReplyParser::default();
        assert!(p.line(bad).is_err(), "{bad:?} accepted");
    }
    // A multiline reply whose code changes midway.
    let mut p = ReplyParser::default();
    p.line("250-one").unwrap();
    let e = p.line("251 two").unwrap_err();
    assert!(e.to_string().contains("251 two"), "{e}");
}

#[test]
fn the_dialogue_is_helo_mail_rcpt_per_recipient_data_message_quit() {
    let to = vec!["a@example.com".to_string(), "b@example.com".to_string()];
    let mut d = Dialogue::new("lb1", "lbd@lb1", &to, "body\r\n.\r\n".into());
    assert_eq!(sent(d.on_reply(&reply(220))), "HELO lb1\r\n");
    assert_eq!(sent(d.on_reply(&reply(250))), "MAIL FROM:<lbd@lb1>\r\n");
    assert_eq!(sent(d.on_reply(&reply(250))), "RCPT TO:<a@example.com>\r\n");
    assert_eq!(sent(d.on_reply(&reply(250))), "RCPT TO:<b@example.com>\r\n");
    // 251 (user not local; will forward) is a success too.
    assert_eq!(sent(d.on_reply(&reply(251))), "DATA\r\n");
    assert!(!d.delivered());
    assert_eq!(sent(d.on_reply(&reply(354))), "body\r\n.\r\n");
    assert_eq!(sent(d.on_reply(&reply(250))), "QUIT\r\n");
    assert!(d.delivered());
    assert_eq!(d.on_reply(&reply(221)), Next::Done);
    assert_eq!(d.step(), Step::Done);
}

#[test]
fn a_refusal_names_the_step_and_the_servers_words() {
    let to = vec!["nobody@example.com".to_string()];
    let mut d = Dialogue::new("lb1", "lbd@lb1", &to, ".\r\n".into());
    sent(d.on_reply(&reply(220)));
    sent(d.on_reply(&reply(250)));
    sent(d.on_reply(&reply(250)));
    let n = d.on_reply(&Reply {
        code: 550,
        text: "5.1.1 no such user".into(),
    });
    let Next::Refused(r) = n else { panic!("{n:?}") };
    assert_eq!(
        r,
        Refused {
            step: "RCPT TO",
            code: 550,
            text: "5.1.1 no such user".into()
        }
    );
    assert_eq!(r.to_string(), "RCPT TO refused: 550 5.1.1 no such user");
    assert!(!d.delivered());
}

#[test]
fn a_greeting_other_than_220_and_a_data_reply_other_than_354_are_refusals() {
    let to = vec!["a@example.com".to_string()];
    let mut d = Dialogue::new("lb1", "f@x", &to, ".\r\n".into());
    assert!(matches!(d.on_reply(&reply(554)), Next::Refused(r) if r.step == "greeting"));
    let mut d = Dialogue::new("lb1", "f@x", &to, ".\r\n".into());
    for code in [220, 250, 250, 250] {
        sent(d.on_reply(&reply(code)));
    }
    assert!(matches!(d.on_reply(&reply(250)), Next::Refused(r) if r.step == "DATA"));
}

#[test]
fn quits_answer_does_not_matter_once_the_message_is_accepted() {
    let to = vec!["a@example.com".to_string()];
    let mut d = Dialogue::new("lb1", "f@x", &to, ".\r\n".into());
    for code in [220, 250, 250, 250, 354, 250] {
        sent(d.on_reply(&reply(code)));
    }
    assert_eq!(d.on_reply(&reply(500)), Next::Done);
}
