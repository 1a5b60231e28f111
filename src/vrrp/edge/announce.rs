//! Sends gratuitous ARPs (AF_PACKET) and unsolicited neighbour advertisements (ICMPv6 raw
//! socket, hop limit 255, to ff02::1) built by [`crate::vrrp::announce`].

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::vrrp::announce::{garp_frame, unsolicited_na, BROADCAST, ETH_P_ARP};

/// Broadcasts one gratuitous ARP for `vip` on interface `ifindex` from `mac`.
pub fn send_garp(ifindex: u32, mac: [u8; 6], vip: Ipv4Addr) -> io::Result<()> {
    let frame = garp_frame(mac, vip);
    let proto = ETH_P_ARP.to_be();
    // SAFETY: socket() returns a new descriptor or -1; we own it via OwnedFd at once.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid start value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&BROADCAST);
    // SAFETY: frame and sll are live locals passed with their exact lengths.
    let rc = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends one unsolicited NA for `vip` to all nodes on `ifname`, from the link-local `src`.
pub fn send_na(
    ifname: &str,
    ifindex: u32,
    src: Ipv6Addr,
    mac: [u8; 6],
    vip: Ipv6Addr,
) -> io::Result<()> {
    let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
    sock.bind_device(Some(ifname.as_bytes()))?;
    sock.bind(&SockAddr::from(SocketAddrV6::new(src, 0, 0, ifindex)))?;
    sock.set_multicast_if_v6(ifindex)?;
    sock.set_multicast_hops_v6(255)?;
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let dst = SockAddr::from(SocketAddrV6::new(all_nodes, 0, 0, ifindex));
    sock.send_to(&unsolicited_na(mac, vip), &dst)?;
    Ok(())
}
