//! Pure framing between byte buffers and IPVS netlink messages: encoding a request with its
//! header, splitting a received datagram into netlink messages, and parsing each one. Never
//! panics on input: every length is checked.

use netlink_packet_core::{
    DecodeError, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
};
use netlink_packet_generic::GenlMessage;

use super::message::IpvsMessage;

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;

/// A parsed IPVS reply (or error/ack/done) message.
pub type IpvsNetlinkMessage = NetlinkMessage<GenlMessage<IpvsMessage>>;

/// Serialises `payload` as a netlink message of type `family`, with `flags` and `seq`.
pub fn encode_request(msg: IpvsMessage, family: u16, flags: u16, seq: u32) -> Vec<u8> {
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family);
    encode(genl, flags, seq)
}

/// Serialises any netlink payload with `flags` and `seq` (port id 0: the kernel fills it).
pub fn encode<T: NetlinkSerializable>(payload: T, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(payload));
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

/// Splits a datagram into its netlink messages (each slice is exactly one message).
pub fn split_messages(buf: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < buf.len() {
        let rest = &buf[at..];
        if rest.len() < NLMSG_HDRLEN {
            return Err(DecodeError::from(format!(
                "truncated netlink header: {} bytes left",
                rest.len()
            )));
        }
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(DecodeError::from(format!(
                "netlink message length {len} does not fit the {} bytes left",
                rest.len()
            )));
        }
        out.push(&rest[..len]);
        at += (len + 3) & !3;
    }
    Ok(out)
}

/// Parses one netlink message carrying IPVS (or error/done) content.
pub fn parse_message(bytes: &[u8]) -> Result<IpvsNetlinkMessage, DecodeError> {
    IpvsNetlinkMessage::deserialize(bytes)
}

/// Parses a whole datagram of replies.
pub fn parse_datagram(buf: &[u8]) -> Result<Vec<IpvsNetlinkMessage>, DecodeError> {
    split_messages(buf)?
        .into_iter()
        .map(parse_message)
        .collect()
}

/// Parses a datagram and turns every service, destination and daemon it carries into domain
/// types, returning how many converted cleanly. The entry point of the reply-parser fuzz
/// target (`fuzz/fuzz_targets/ipvs_reply.rs`) and of the bounded fuzz tests: whatever the
/// bytes, it returns, never panics.
pub fn decode_everything(buf: &[u8]) -> usize {
    use super::attr::IpvsAttr;
    use super::convert::{daemon_from_attrs, dest_from_attrs, service_from_attrs};
    use super::types::Family;
    let Ok(msgs) = parse_datagram(buf) else {
        return 0;
    };
    let mut ok = 0;
    for m in &msgs {
        let NetlinkPayload::InnerMessage(genl) = &m.payload else {
            continue;
        };
        for a in &genl.payload.attrs {
            ok += match a {
                IpvsAttr::Service(s) => usize::from(service_from_attrs(s).is_ok()),
                IpvsAttr::Dest(d) => {
                    usize::from(dest_from_attrs(Family::Ipv4, d).is_ok())
                        + usize::from(dest_from_attrs(Family::Ipv6, d).is_ok())
                }
                IpvsAttr::Daemon(d) => usize::from(daemon_from_attrs(d).is_ok()),
                _ => 0,
            };
        }
    }
    ok
}
