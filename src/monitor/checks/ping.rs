//! `ping`: ICMP echo v4/v6 with `surge-ping` (one raw socket per family, shared by every ping
//! check of the runtime; replies are matched by address, identifier and sequence). Only an
//! echo reply passes: an ICMP error about our echo (host unreachable, which the director's own
//! kernel sends once ARP for a dead neighbour has failed) is routed to the same waiter and is a
//! failure, with what it said.

use crate::monitor::outcome::{io_error, CheckError, Outcome, Pass};
use std::net::IpAddr;
use std::time::Duration;
use surge_ping::{Client, Config, IcmpPacket, PingIdentifier, PingSequence, SurgeError, ICMP};
use tokio::sync::OnceCell;

/// The ICMP sockets, opened on first use inside the runtime that runs the checks.
#[derive(Default)]
pub struct Pingers {
    v4: OnceCell<Client>,
    v6: OnceCell<Client>,
}

impl std::fmt::Debug for Pingers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pingers")
    }
}

impl Pingers {
    async fn client(&self, v6: bool) -> Result<&Client, CheckError> {
        let (cell, kind) = if v6 {
            (&self.v6, ICMP::V6)
        } else {
            (&self.v4, ICMP::V4)
        };
        cell.get_or_try_init(|| async { Client::new(&Config::builder().kind(kind).build()) })
            .await
            .map_err(io_error)
    }
}

pub async fn check(pingers: &Pingers, addr: IpAddr, count: u16, timeout: Duration) -> Outcome {
    let client = pingers.client(addr.is_ipv6()).await?;
    let ident = PingIdentifier(rand::random());
    let mut pinger = client.pinger(addr, ident).await;
    // Leave a tenth of the check's timeout so that silence reports as "no echo reply".
    let per_ping = timeout.mul_f64(0.9) / u32::from(count.max(1));
    pinger.timeout(per_ping);
    let payload = [0u8; 56];
    let mut last = CheckError::NoEchoReply;
    for seq in 0..count {
        match pinger.ping(PingSequence(seq), &payload).await {
            Ok((packet, _)) => match not_an_echo_reply(&packet) {
                None => return Ok(Pass::default()),
                Some(e) => last = e,
            },
            Err(SurgeError::Timeout { .. }) => last = CheckError::NoEchoReply,
            Err(SurgeError::IOError(e)) => last = io_error(e),
            Err(e) => last = CheckError::Io(e.to_string()),
        }
    }
    Err(last)
}

/// Why a packet routed to our echo is not an echo reply (ICMP type 0, ICMPv6 type 129), if
/// it is not.
fn not_an_echo_reply(packet: &IcmpPacket) -> Option<CheckError> {
    let (kind, code, what) = match packet {
        IcmpPacket::V4(p) => (p.get_icmp_type().0, p.get_icmp_code().0, "ICMP"),
        IcmpPacket::V6(p) => (p.get_icmpv6_type().0, p.get_icmpv6_code().0, "ICMPv6"),
    };
    let echo_reply = match packet {
        IcmpPacket::V4(_) => 0,
        IcmpPacket::V6(_) => 129,
    };
    let words = match (what, kind, code) {
        ("ICMP", 3, 0) | ("ICMPv6", 1, 0) => "network unreachable",
        ("ICMP", 3, 1) | ("ICMPv6", 1, 3) => "host unreachable",
        ("ICMP", 3, _) | ("ICMPv6", 1, _) => "destination unreachable",
        ("ICMP", 11, _) | ("ICMPv6", 3, _) => "time exceeded",
        _ => "not an echo reply",
    };
    (kind != echo_reply)
        .then(|| CheckError::Unreachable(format!("{words} ({what} type {kind} code {code})")))
}
