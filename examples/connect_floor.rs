//! The floor under any TCP checker on this machine: the same N loopback nodes as
//! `monitor_bench`, each connected to once a second by a bare non-blocking loop of system calls
//! (socket, connect, epoll_ctl, epoll_wait, getsockopt SO_ERROR, SO_LINGER 0, close; the set
//! keepalived's TCP_CHECK makes), with no runtime, no scheduler and no reports. What this
//! process spends is what the kernel charges for the checks themselves; a checker's own cost
//! is what it spends above it.
//!
//!     cargo run --release --example connect_floor -- 10000 30

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

mod common;
use common::{addr, cpu_split, loadavg, PORT};

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(a.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

/// Starts one connect; the socket, or -1.
fn start(epfd: i32, a: SocketAddrV4) -> i32 {
    let sa = sockaddr(a);
    // SAFETY: plain system calls on a socket this function owns, with valid arguments.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return -1;
        }
        let r = libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if r < 0 && *libc::__errno_location() != libc::EINPROGRESS {
            libc::close(fd);
            return -1;
        }
        let mut ev = libc::epoll_event {
            events: libc::EPOLLOUT as u32,
            u64: fd as u64,
        };
        libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev);
        fd
    }
}

/// Finishes one connect: its result, then a reset close. `true` when it connected.
fn finish(epfd: i32, fd: i32) -> bool {
    // SAFETY: as in `start`; the buffers are valid for the calls.
    unsafe {
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        );
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
        libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut());
        libc::close(fd);
        err == 0
    }
}

fn main() {
    let Some((n, secs, _, mut child)) = common::start(30) else {
        return;
    };
    // SAFETY: creates an epoll instance.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(epfd >= 0, "epoll_create1");
    // Each second in 100 slices of 10 ms, a hundredth of the nodes each.
    let slices = 100usize;
    let slice = Duration::from_millis(10);
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let (mut ok, mut failed) = (0u64, 0u64);
    let split0 = cpu_split();
    let t0 = Instant::now();
    let mut k = 0u64;
    while t0.elapsed() < Duration::from_secs(secs) {
        let s = (k as usize) % slices;
        for i in (s * n / slices)..((s + 1) * n / slices) {
            if start(epfd, SocketAddrV4::new(addr(i), PORT)) < 0 {
                failed += 1;
            }
        }
        k += 1;
        let next = t0 + slice * u32::try_from(k).unwrap_or(u32::MAX);
        loop {
            let left = next.saturating_duration_since(Instant::now());
            let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: `events` is valid for its length.
            let got = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), 1024, ms) };
            for ev in events.iter().take(usize::try_from(got).unwrap_or(0)) {
                if finish(epfd, ev.u64 as i32) {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            if left.is_zero() {
                break;
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let split1 = cpu_split();
    drop(child.stdin.take());
    let _ = child.wait();
    let (user, sys) = (split1.0 - split0.0, split1.1 - split0.1);
    println!("nodes                 {n}");
    println!("machine load average  {}", loadavg());
    println!(
        "connects              {ok} passed, {failed} failed ({:.0} per second) in {wall:.1} s",
        (ok + failed) as f64 / wall
    );
    println!(
        "cpu                   {:.2} s = {:.1}% of one core (user {user:.2} s, system {sys:.2} s)",
        user + sys,
        100.0 * (user + sys) / wall
    );
}
