//! `dns`: one query (name, type) over UDP to the node, encoded and decoded with hickory-proto;
//! passes when the response code and every expected answer match.

use crate::monitor::outcome::{io_error, CheckError, Outcome, Pass};
use crate::monitor::spec::DnsCheck;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(self.name.clone(), self.qtype));
        let id = query.metadata.id;
        let bytes = query
            .to_vec()
            .map_err(|e| CheckError::Dns(format!("cannot encode query: {e}")))?;
        let local: IpAddr = match addr {
            IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let sock = UdpSocket::bind(SocketAddr::new(local, 0))
            .await
            .map_err(io_error)?;
        sock.connect(SocketAddr::new(addr, self.port))
            .await
            .map_err(io_error)?;
        sock.send(&bytes).await.map_err(io_error)?;
        let mut buf = vec![0u8; 4096];
        let reply = loop {
            let n = sock.recv(&mut buf).await.map_err(io_error)?;
            // Ignore anything that is not the answer to this query (stray or spoofed).
            if let Ok(m) = Message::from_vec(buf.get(..n).unwrap_or_default()) {
                if m.metadata.id == id {
                    break m;
                }
            }
        };
        self.judge(&reply)
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
