//! `dns`: one query (name, type) over UDP to the node, encoded and decoded with hickory-proto;
//! passes when the response code and every expected answer match.

use crate::monitor::outcome::{io_error, CheckError, Outcome, Pass};
use crate::monitor::spec::DnsCheck;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use tokio::net::UdpSocket;

/// A DNS check with its name, type and response code parsed.
#[derive(Debug)]
pub struct PreparedDns {
    port: u16,
    name: Name,
    qtype: RecordType,
    rcode: u16,
    expect: Vec<String>,
}

/// Parses `NOERROR`, `NXDOMAIN`, ... or a number.
pub fn parse_rcode(text: &str) -> Option<u16> {
    Some(match text.to_ascii_uppercase().as_str() {
        "NOERROR" => 0,
        "FORMERR" => 1,
        "SERVFAIL" => 2,
        "NXDOMAIN" => 3,
        "NOTIMP" => 4,
        "REFUSED" => 5,
        other => other.parse().ok()?,
    })
}

fn rcode_name(code: u16) -> String {
    match code {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => n.to_string(),
    }
}

impl PreparedDns {
    pub fn new(spec: &DnsCheck) -> Result<Self, CheckError> {
        let name = Name::from_str(&spec.name)
            .map_err(|e| CheckError::Spec(format!("invalid dns name {:?}: {e}", spec.name)))?;
        let qtype = RecordType::from_str(&spec.qtype.to_ascii_uppercase())
            .map_err(|_| CheckError::Spec(format!("invalid dns type {:?}", spec.qtype)))?;
        let rcode = parse_rcode(&spec.rcode)
            .ok_or_else(|| CheckError::Spec(format!("invalid dns rcode {:?}", spec.rcode)))?;
        Ok(PreparedDns {
            port: spec.port,
            name,
            qtype,
            rcode,
            expect: spec.expect.clone(),
        })
    }

    pub async fn check(&self, addr: IpAddr) -> Outcome {
        self.check_from(addr, None).await
    }

    /// [`PreparedDns::check`] from `source` when given.
    pub async fn check_from(&self, addr: IpAddr, source: Option<IpAddr>) -> Outcome {
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(self.name.clone(), self.qtype));
        let id = query.metadata.id;
        let bytes = query
            .to_vec()
            .map_err(|e| CheckError::Dns(format!("cannot encode query: {e}")))?;
        let local = super::udp_local(addr, source)?;
        let sock = UdpSocket::bind(SocketAddr::new(local, 0))
            .await
            .map_err(io_error)?;
        sock.connect(SocketAddr::new(addr, self.port))
            .await
            .map_err(io_error)?;
        sock.send(&bytes).await.map_err(io_error)?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).await.map_err(io_error)?;
            if let Some(outcome) = self.judge_datagram(id, buf.get(..n).unwrap_or_default()) {
                return outcome;
            }
        }
    }

    /// Judges a datagram received for the query `id`: `None` when it is not the answer to it
    /// (it does not parse, or has another id: stray or spoofed, ignored), else the outcome.
    /// Never panics, whatever the bytes.
    pub fn judge_datagram(&self, id: u16, datagram: &[u8]) -> Option<Outcome> {
        let reply = Message::from_vec(datagram).ok()?;
        (reply.metadata.id == id).then(|| self.judge(&reply))
    }

    /// Compares a response with what the check expects.
    pub fn judge(&self, reply: &Message) -> Outcome {
        let got = u16::from(reply.metadata.response_code);
        if got != self.rcode {
            return Err(CheckError::DnsRcode {
                got: rcode_name(got),
                want: rcode_name(self.rcode),
            });
        }
        let answers: Vec<String> = reply
            .answers
            .iter()
            .filter(|r| r.record_type() == self.qtype)
            .map(|r| r.data.to_string())
            .collect();
        for want in &self.expect {
            if !answers.iter().any(|a| a.eq_ignore_ascii_case(want)) {
                return Err(CheckError::DnsAnswer {
                    missing: want.clone(),
                    got: answers.join(", "),
                });
            }
        }
        Ok(Pass::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::{rdata::A, RData, Record};

    /// The answer `tests/monitor_netns.rs`'s server gives, built the same way.
    fn answer(id: u16, name: &str, found: bool) -> Vec<u8> {
        let mut q = Message::query();
        q.metadata.id = id;
        q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        let mut r = Message::response(id, q.metadata.op_code);
        r.add_query(q.queries[0].clone());
        if found {
            r.add_answer(Record::from_rdata(
                Name::from_ascii(name).unwrap(),
                60,
                RData::A(A::new(192, 0, 2, 80)),
            ));
        } else {
            r.metadata.response_code = ResponseCode::NXDomain;
        }
        r.to_vec().unwrap()
    }

    // Answers to query 0x1234 as `tests/monitor_netns.rs`'s server encodes them (checked by
    // `fixtures_are_the_servers_answers`); `fuzz/run` seeds the `dns_reply` target with them.
    const DNS_A_ANSWER: [u8; 50] = [
        0x12, 0x34, 0x80, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 3, b'w', b'w',
        b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 4, b't', b'e', b's', b't', 0, 0x00,
        0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 60, 0x00, 0x04,
        192, 0, 2, 80,
    ];
    const DNS_NXDOMAIN: [u8; 35] = [
        0x12, 0x34, 0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 4, b'n', b'o',
        b'p', b'e', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 4, b't', b'e', b's', b't', 0,
        0x00, 0x01, 0x00, 0x01,
    ];

    fn prepared(expect: &[&str], rcode: &str) -> PreparedDns {
        PreparedDns::new(&DnsCheck {
            port: 53,
            name: "www.example.test".into(),
            qtype: "A".into(),
            expect: expect.iter().map(|e| e.to_string()).collect(),
            rcode: rcode.into(),
        })
        .unwrap()
    }

    #[test]
    fn fixtures_are_the_servers_answers() {
        assert_eq!(answer(0x1234, "www.example.test.", true), DNS_A_ANSWER);
        assert_eq!(answer(0x1234, "nope.example.test.", false), DNS_NXDOMAIN);
    }

    #[test]
    fn datagrams_are_judged_when_they_answer_the_query() {
        let check = prepared(&["192.0.2.80"], "NOERROR");
        assert_eq!(
            check.judge_datagram(0x1234, &DNS_A_ANSWER),
            Some(Ok(Pass::default()))
        );
        assert_eq!(
            check.judge_datagram(0x1234, &DNS_NXDOMAIN),
            Some(Err(CheckError::DnsRcode {
                got: "NXDOMAIN".into(),
                want: "NOERROR".into()
            }))
        );
        assert_eq!(
            prepared(&["192.0.2.81"], "NOERROR").judge_datagram(0x1234, &DNS_A_ANSWER),
            Some(Err(CheckError::DnsAnswer {
                missing: "192.0.2.81".into(),
                got: "192.0.2.80".into()
            }))
        );
        // Another query's answer, a truncated one, garbage: not ours, keep waiting.
        assert_eq!(check.judge_datagram(0x4321, &DNS_A_ANSWER), None);
        assert_eq!(check.judge_datagram(0x1234, &DNS_A_ANSWER[..40]), None);
        assert_eq!(check.judge_datagram(0x1234, b"\x12\x34"), None);
    }
}
