//! The SMTP dialogue of one mail (RFC 5321), sans I/O: replies in, commands out. The client
//! waits for the 220 greeting, then sends HELO, MAIL FROM, one RCPT TO per recipient, DATA
//! and the dot-stuffed message, and QUIT. Any reply out of the expected class ends it (a 4xx
//! or 5xx refusal, with the step, code and text); once the message is accepted (250 after the
//! final dot) the mail counts as delivered, whatever QUIT gets.

use std::fmt;

/// One complete reply: its code and its text lines joined with ` / `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

/// A reply line that is not `DDD`, `DDD text` or `DDD-text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReply(pub String);

impl fmt::Display for BadReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed SMTP reply line {:?}", self.0)
    }
}

/// Collects the lines of one (possibly multiline, `250-...`) reply.
#[derive(Debug, Default)]
pub struct ReplyParser {
    code: Option<u16>,
    text: Vec<String>,
}

impl ReplyParser {
    /// Feeds one line (without its line end); a reply when it was the last line.
    pub fn line(&mut self, line: &str) -> Result<Option<Reply>, BadReply> {
        let bytes = line.as_bytes();
        let bad = || BadReply(line.chars().take(80).collect());
        if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) || bytes[0] < b'2' {
            return Err(bad());
        }
        let code: u16 = line[..3].parse().map_err(|_| bad())?;
        if self.code.is_some_and(|c| c != code) {
            return Err(bad());
        }
        let (more, text) = match bytes.get(3) {
            None => (false, ""),
            Some(b' ') => (false, &line[4..]),
            Some(b'-') => (true, &line[4..]),
            Some(_) => return Err(bad()),
        };
        self.code = Some(code);
        if !text.is_empty() {
            self.text.push(text.to_string());
        }
        if more {
            return Ok(None);
        }
        let reply = Reply {
            code,
            text: self.text.join(" / "),
        };
        *self = ReplyParser::default();
        Ok(Some(reply))
    }
}

/// Where the dialogue is: the reply it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Greeting,
    Helo,
    MailFrom,
    /// The reply to the RCPT TO of recipient `n`.
    RcptTo(usize),
    Data,
    /// The reply to the message's final dot.
    Message,
    Quit,
    Done,
}

impl Step {
    /// The step's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Step::Greeting => "greeting",
            Step::Helo => "HELO",
            Step::MailFrom => "MAIL FROM",
            Step::RcptTo(_) => "RCPT TO",
            Step::Data => "DATA",
            Step::Message => "message",
            Step::Quit => "QUIT",
            Step::Done => "end",
        }
    }
}

/// The server refused a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub step: &'static str,
    pub code: u16,
    pub text: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} refused: {} {}", self.step, self.code, self.text)
    }
}

/// What to do after a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Write this (a command with its CRLF, or the DATA payload) and wait for the next reply.
    Send(String),
    /// The dialogue is over (the mail was delivered).
    Done,
    Refused(Refused),
}

/// One mail's dialogue.
#[derive(Debug, Clone)]
pub struct Dialogue {
    helo: String,
    from: String,
    to: Vec<String>,
    /// The dot-stuffed payload, final `.` line included.
    data: String,
    step: Step,
}

impl Dialogue {
    /// `data` is the DATA payload as [`super::message::dot_stuffed`] makes it.
    pub fn new(helo: &str, from: &str, to: &[String], data: String) -> Self {
        Dialogue {
            helo: helo.to_string(),
            from: from.to_string(),
            to: to.to_vec(),
            data,
            step: Step::Greeting,
        }
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// The server accepted the message (QUIT's answer does not matter).
    pub fn delivered(&self) -> bool {
        matches!(self.step, Step::Quit | Step::Done)
    }

    /// The next move after the server's reply to the current step.
    pub fn on_reply(&mut self, reply: &Reply) -> Next {
        let expected = match self.step {
            Step::Greeting => reply.code == 220,
            Step::Data => reply.code == 354,
            Step::Quit | Step::Done => true,
            _ => (200..300).contains(&reply.code),
        };
        if !expected {
            return Next::Refused(Refused {
                step: self.step.name(),
                code: reply.code,
                text: reply.text.clone(),
            });
        }
        let (step, send) = match self.step {
            Step::Greeting => (Step::Helo, format!("HELO {}\r\n", self.helo)),
            Step::Helo => (Step::MailFrom, format!("MAIL FROM:<{}>\r\n", self.from)),
            Step::MailFrom | Step::RcptTo(_) => {
                let n = match self.step {
                    Step::RcptTo(n) => n + 1,
                    _ => 0,
                };
                match self.to.get(n) {
                    Some(to) => (Step::RcptTo(n), format!("RCPT TO:<{to}>\r\n")),
                    None => (Step::Data, "DATA\r\n".to_string()),
                }
            }
            Step::Data => (Step::Message, self.data.clone()),
            Step::Message => (Step::Quit, "QUIT\r\n".to_string()),
            Step::Quit | Step::Done => {
                self.step = Step::Done;
                return Next::Done;
            }
        };
        self.step = step;
        Next::Send(send)
    }
}
