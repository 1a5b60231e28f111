//! Raw IP sockets for VRRP adverts (IP protocol 112), IPv4 and IPv6.
//!
//! Two sockets per instance: the sending one is bound to our source address (IPv4 primary or
//! IPv6 link-local, which the checksum's pseudo-header needs) with TTL / hop limit 255 and
//! multicast loop off; the receiving one is bound only to the interface and joined to
//! 224.0.0.18 or ff02::12 (a raw socket bound to an address would see only unicast to it).
//!
//! VRRPv2 ([`SocketMode`]): the sending socket has `IP_HDRINCL` (the codec writes the whole
//! IPv4 datagram, as keepalived does), and a third socket receives IP protocol 51 (IPsec AH),
//! bound and joined like the first; AH protecting anything but VRRP is skipped uncounted.
//! IPv4 datagrams are delivered whole ([`Raw::V4`]) for the codec to check.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::vrrp::packet::{
    DropReason, Family, IpMeta, IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_MCAST_V6, VRRP_TTL,
};
use crate::vrrp::packet_v2::IPPROTO_AH;
use crate::vrrp::wire::{foreign_ah, Raw};

/// A packet received, or why it is unusable before the codec sees it.
pub type Received = Result<Raw, DropReason>;

/// How the sockets are set up (from [`crate::vrrp::wire::Codec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SocketMode {
    /// What is sent is the whole IPv4 datagram (`IP_HDRINCL`).
    pub header_included: bool,
    /// Receive IP protocol 51 (IPsec AH) too.
    pub ah: bool,
}

/// The advert sockets of one instance.
pub struct AdvertSocket {
    family: Family,
    src: IpAddr,
    ifindex: u32,
    tx: Socket,
    rx: AsyncFd<Socket>,
    rx_ah: Option<AsyncFd<Socket>>,
}

fn setsockopt_int(sock: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: plain setsockopt with a pointer to a local int of the right size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `IP_MULTICAST_IF` by interface index (`ip_mreqn`): by address, the kernel would pick the
/// interface that holds it, which is not the one the socket is bound to on a VMAC.
fn set_multicast_if_index_v4(sock: &Socket, ifindex: u32) -> io::Result<()> {
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as i32,
    };
    // SAFETY: setsockopt with a pointer to a local ip_mreqn and its true size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&mreq as *const libc::ip_mreqn).cast(),
            std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl AdvertSocket {
    /// Opens the sockets on `ifname` (index `ifindex`) sending from `src`.
    pub fn open(
        ifname: &str,
        ifindex: u32,
        src: IpAddr,
        mode: SocketMode,
    ) -> io::Result<AdvertSocket> {
        let proto = Some(Protocol::from(i32::from(IPPROTO_VRRP)));
        let family = Family::of(&src);
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let tx = Socket::new(domain, Type::RAW, proto)?;
        let rx = Socket::new(domain, Type::RAW, proto)?;
        for s in [&tx, &rx] {
            s.bind_device(Some(ifname.as_bytes()))?;
            s.set_nonblocking(true)?;
        }
        // The sending socket is never read: keep its receive queue minimal.
        tx.set_recv_buffer_size(0)?;
        match src {
            IpAddr::V4(_) => {
                tx.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
                set_multicast_if_index_v4(&tx, ifindex)?;
                tx.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
                tx.set_ttl_v4(u32::from(VRRP_TTL))?;
                tx.set_multicast_loop_v4(false)?;
                rx.set_multicast_all_v4(false)?;
                rx.join_multicast_v4_n(&VRRP_MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
                if mode.header_included {
                    setsockopt_int(&tx, libc::IPPROTO_IP, libc::IP_HDRINCL, 1)?;
                }
            }
            IpAddr::V6(a) => {
                tx.bind(&SockAddr::from(SocketAddrV6::new(a, 0, 0, ifindex)))?;
                tx.set_multicast_if_v6(ifindex)?;
                tx.set_multicast_hops_v6(u32::from(VRRP_TTL))?;
                tx.set_unicast_hops_v6(u32::from(VRRP_TTL))?;
                tx.set_multicast_loop_v6(false)?;
                rx.set_multicast_all_v6(false)?;
                rx.join_multicast_v6(&VRRP_MCAST_V6, ifindex)?;
                setsockopt_int(&rx, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
                setsockopt_int(&rx, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
            }
        }
        let rx_ah = match (mode.ah, family) {
            (true, Family::V4) => {
                let ah = Socket::new(
                    domain,
                    Type::RAW,
                    Some(Protocol::from(i32::from(IPPROTO_AH))),
                )?;
                ah.bind_device(Some(ifname.as_bytes()))?;
                ah.set_nonblocking(true)?;
                ah.set_multicast_all_v4(false)?;
                ah.join_multicast_v4_n(&VRRP_MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
                // SAFETY: as for `rx` below.
                Some(unsafe { AsyncFd::register(ah) }.map_err(io::Error::from)?)
            }
            _ => None,
        };
        // SAFETY: `rx` is an owned, open socket; its descriptor stays the same and open for the
        // AsyncFd's whole life because the AsyncFd owns it.
        let rx = unsafe { AsyncFd::register(rx) }.map_err(io::Error::from)?;
        Ok(AdvertSocket {
            family,
            src,
            ifindex,
            tx,
            rx,
            rx_ah,
        })
    }

    /// Our source address.
    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// Sends one VRRP message to `dst` (the kernel adds the IP header), or with
    /// [`SocketMode::header_included`] one whole IPv4 datagram.
    pub fn send(&self, msg: &[u8], dst: IpAddr) -> io::Result<()> {
        let addr = match (dst, self.family) {
            (IpAddr::V6(d), Family::V6) => {
                let link_scope = d.is_multicast() || d.is_unicast_link_local();
                let scope = if link_scope { self.ifindex } else { 0 };
                SockAddr::from(SocketAddrV6::new(d, 0, 0, scope))
            }
            _ => SockAddr::from(SocketAddr::new(dst, 0)),
        };
        self.tx.send_to(msg, &addr).map(|_| ())
    }

    /// The next packet if one is already queued (never waits).
    pub fn try_recv(&self) -> Option<io::Result<Received>> {
        let r = match self.family {
            Family::V4 => recv_v4(self.rx.get_ref()),
            Family::V6 => recv_v6(self.rx.get_ref()),
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return Some(other),
        }
        let ah = self.rx_ah.as_ref()?;
        loop {
            match recv_ah(ah.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Ok(None) => continue,
                Ok(Some(r)) => return Some(Ok(r)),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Receives the next packet (from either socket with VRRPv2), or why it is unusable.
    pub async fn recv(&self) -> io::Result<Received> {
        loop {
            let ah_ready = async {
                match &self.rx_ah {
                    Some(ah) => ah.readable().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                guard = self.rx.readable() => {
                    let res = guard?.try_io(|fd| match self.family {
                        Family::V4 => recv_v4(fd.get_ref()),
                        Family::V6 => recv_v6(fd.get_ref()),
                    });
                    if let Ok(r) = res {
                        return r;
                    }
                }
                guard = ah_ready => {
                    match guard?.try_io(|fd| recv_ah(fd.get_ref())) {
                        Ok(Ok(Some(r))) => return Ok(r),
                        Ok(Ok(None)) | Err(_) => {}
                        Ok(Err(e)) => return Err(e),
                    }
                }
            }
        }
    }
}

fn recv_v4(sock: &Socket) -> io::Result<Received> {
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let (n, _) = sock.recv_from(&mut buf)?;
    // SAFETY: recv_from initialised the first n bytes.
    let bytes: Vec<u8> = buf[..n]
        .iter()
        .map(|b| unsafe { b.assume_init() })
        .collect();
    Ok(Ok(Raw::V4(bytes)))
}

/// One datagram from the AH socket; `None` for AH that does not carry VRRP.
fn recv_ah(sock: &Socket) -> io::Result<Option<Received>> {
    let r = recv_v4(sock)?;
    Ok(match &r {
        Ok(Raw::V4(d)) if foreign_ah(d) => None,
        _ => Some(r),
    })
}

/// recvmsg with IPV6_HOPLIMIT and IPV6_PKTINFO control messages (the IPv6 header itself is
/// not delivered on raw IPv6 sockets).
fn recv_v6(sock: &Socket) -> io::Result<Received> {
    let mut buf = [0u8; 2048];
    let mut cbuf = [0u64; 32];
    // SAFETY: zeroed sockaddr_in6 and msghdr are valid; every pointer refers to a live local
    // buffer with its true length, and the CMSG_* walk stays within msg_controllen as the
    // kernel set it.
    unsafe {
        let mut from: libc::sockaddr_in6 = std::mem::zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut from as *mut libc::sockaddr_in6).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut hops: Option<u8> = None;
        let mut dst: Option<Ipv6Addr> = None;
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            if (*c).cmsg_level == libc::IPPROTO_IPV6 && (*c).cmsg_type == libc::IPV6_HOPLIMIT {
                let v = std::ptr::read_unaligned(data.cast::<i32>());
                hops = u8::try_from(v).ok();
            }
            if (*c).cmsg_level == libc::IPPROTO_IPV6 && (*c).cmsg_type == libc::IPV6_PKTINFO {
                let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        let src = Ipv6Addr::from(from.sin6_addr.s6_addr);
        let (Some(ttl), Some(dst)) = (hops, dst) else {
            return Ok(Err(DropReason::BadIpHeader));
        };
        Ok(Ok(Raw::V6(
            IpMeta {
                src: IpAddr::V6(src),
                dst: IpAddr::V6(dst),
                ttl,
            },
            buf[..n as usize].to_vec(),
        )))
    }
}
