//! Captures byte fixtures from a real IPVS kernel: performs one request of every kind and
//! prints each step's sent and received datagrams as hex, in the format of
//! `src/ipvs/fixtures/*.txt`. Run it in a fresh network namespace of the lab guest (see the
//! header of the fixture file for the exact command); it needs a `d0` interface holding
//! 198.51.100.1/24, 192.0.2.1/24 and 2001:db8:1::1/64, and the module `ip_vs_pe_sip`. Besides
//! one request of every command, it captures the variants: SCTP, IPv6 fwmark and SIP-persistence
//! services, route/GUE tunnel/IPv6 real servers read back, a master and an IPv6 backup sync
//! daemon side by side, kernel refusals (ENOENT, ESRCH, ERANGE, EINVAL, EPERM), and non-zero
//! counters after one TCP connection attempt through a persistent service. Its last step drops
//! root (and with it CAP_NET_ADMIN).

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use lbd::ipvs::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn dump(name: &str, client: &mut IpvsClient) {
    println!("step {name}");
    for c in client.take_recording() {
        match c {
            Captured::Sent(b) => println!("> {}", hex(&b)),
            Captured::Received(b) => println!("< {}", hex(&b)),
        }
    }
}

/// Applies `ops`, which the kernel must refuse, prints the error in words and the step.
fn refused(name: &str, client: &mut IpvsClient, op: Op) -> Result<(), IpvsError> {
    let report = client.apply(&[op])?;
    let Some(f) = report.failures.first() else {
        panic!("{name}: the kernel accepted it");
    };
    println!("# {}", f.error);
    dump(name, client);
    Ok(())
}

fn main() -> Result<(), IpvsError> {
    let mut c = IpvsClient::connect()?;
    c.start_recording();
    println!("family {}", c.family_id());

    c.info()?;
    dump("get_info", &mut c);

    let web = ServiceKey::tcp(ip("192.0.2.10"), 80);
    let mut dns = Service::new(ServiceKey::udp(ip("2001:db8::10"), 53), "sh");
    dns.flags = SvcFlags(SvcFlags::PERSISTENT | SvcFlags::SH_PORT);
    dns.timeout = 300;
    dns.netmask = 64;
    let fw = ServiceKey::Fwmark {
        family: Family::Ipv4,
        mark: 3,
    };
    let mut fws = Service::new(fw, "rr");
    fws.flags = SvcFlags(SvcFlags::PERSISTENT | SvcFlags::ONEPACKET);
    fws.timeout = 60;
    fws.netmask = 24;

    c.apply(&[Op::AddService(Service::new(web, "wlc"))])?
        .into_result()?;
    dump("new_service_tcp4", &mut c);
    c.apply(&[Op::AddService(dns.clone())])?.into_result()?;
    dump("new_service_udp6_persistent", &mut c);
    c.apply(&[Op::AddService(fws)])?.into_result()?;
    dump("new_service_fwmark", &mut c);

    let mut masq = Dest::new(ip("198.51.100.11"), 8080, ForwardMethod::Masq);
    masq.weight = 3;
    masq.upper_threshold = 100;
    masq.lower_threshold = 10;
    c.apply(&[Op::AddDest {
        service: web,
        dest: masq.clone(),
    }])?
    .into_result()?;
    dump("new_dest_masq4", &mut c);
    let tun = Tunnel {
        kind: TunnelType::Gue,
        port: 6080,
        flags: 1,
    };
    let d6 = Dest::new(ip("2001:db8:1::11"), 53, ForwardMethod::Tunnel(tun));
    c.apply(&[Op::AddDest {
        service: dns.key,
        dest: d6,
    }])?
    .into_result()?;
    dump("new_dest_tunnel6", &mut c);
    let dr = Dest::new(ip("198.51.100.12"), 0, ForwardMethod::Route);
    c.apply(&[Op::AddDest {
        service: fw,
        dest: dr,
    }])?
    .into_result()?;
    dump("new_dest_route_fwmark", &mut c);

    let failed = c.apply(&[Op::AddService(Service::new(web, "wlc"))])?;
    println!(
        "# {}",
        failed
            .failures
            .first()
            .map(|f| f.error.to_string())
            .unwrap_or_default()
    );
    dump("new_service_duplicate", &mut c);

    c.apply(&[Op::EditService(Service::new(web, "rr"))])?
        .into_result()?;
    dump("set_service", &mut c);
    masq.weight = 0;
    c.apply(&[Op::EditDest {
        service: web,
        dest: masq,
    }])?
    .into_result()?;
    dump("set_dest", &mut c);

    c.services()?;
    dump("get_service_dump", &mut c);
    c.dests(&web)?;
    dump("get_dest_dump", &mut c);
    c.service(&dns.key)?;
    dump("get_service_one", &mut c);

    // Variants: SCTP, IPv6 fwmark, SIP persistence engine; real servers of each kind read back.
    let sctp = ServiceKey::Addr {
        protocol: Protocol::Sctp,
        addr: ip("192.0.2.10"),
        port: 3868,
    };
    c.apply(&[Op::AddService(Service::new(sctp, "mh"))])?
        .into_result()?;
    dump("new_service_sctp4", &mut c);
    let fw6 = ServiceKey::Fwmark {
        family: Family::Ipv6,
        mark: 4,
    };
    let mut fw6s = Service::new(fw6, "wrr");
    fw6s.flags = SvcFlags(SvcFlags::PERSISTENT);
    fw6s.timeout = 120;
    fw6s.netmask = 64;
    c.apply(&[Op::AddService(fw6s)])?.into_result()?;
    dump("new_service_fwmark6", &mut c);
    let mut sip = Service::new(ServiceKey::udp(ip("192.0.2.10"), 5060), "rr");
    sip.flags = SvcFlags(SvcFlags::PERSISTENT);
    sip.timeout = 360;
    sip.pe_name = Some("sip".into());
    c.apply(&[Op::AddService(sip.clone())])?.into_result()?;
    dump("new_service_pe_sip", &mut c);
    c.service(&sip.key)?;
    dump("get_service_pe_sip", &mut c);
    c.apply(&[Op::AddDest {
        service: fw6,
        dest: Dest::new(ip("2001:db8:1::12"), 0, ForwardMethod::Route),
    }])?
    .into_result()?;
    dump("new_dest_route6", &mut c);
    c.services()?;
    dump("get_service_dump_variants", &mut c);
    c.dests(&dns.key)?;
    dump("get_dest_dump_tunnel6", &mut c);
    c.dests(&fw)?;
    dump("get_dest_dump_route", &mut c);
    c.dests(&fw6)?;
    dump("get_dest_dump_route6", &mut c);

    // Refusals other than EEXIST.
    refused(
        "new_service_no_scheduler",
        &mut c,
        Op::AddService(Service::new(ServiceKey::tcp(ip("192.0.2.10"), 81), "xyz")),
    )?;
    let mut nope = sip.clone();
    nope.key = ServiceKey::udp(ip("192.0.2.10"), 5061);
    nope.pe_name = Some("xyz".into());
    refused("new_service_no_pe", &mut c, Op::AddService(nope))?;
    let missing = ServiceKey::tcp(ip("192.0.2.99"), 80);
    refused(
        "set_service_missing",
        &mut c,
        Op::EditService(Service::new(missing, "rr")),
    )?;
    refused(
        "new_dest_missing_service",
        &mut c,
        Op::AddDest {
            service: missing,
            dest: Dest::new(ip("198.51.100.11"), 80, ForwardMethod::Masq),
        },
    )?;
    refused(
        "del_dest_missing",
        &mut c,
        Op::DelDest {
            service: web,
            addr: ip("198.51.100.99"),
            port: 80,
        },
    )?;
    let mut reversed = Dest::new(ip("198.51.100.13"), 80, ForwardMethod::Masq);
    reversed.upper_threshold = 10;
    reversed.lower_threshold = 20;
    refused(
        "new_dest_thresholds_reversed",
        &mut c,
        Op::AddDest {
            service: web,
            dest: reversed,
        },
    )?;
    let gue0 = Tunnel {
        kind: TunnelType::Gue,
        port: 0,
        flags: 0,
    };
    refused(
        "new_dest_gue_without_port",
        &mut c,
        Op::AddDest {
            service: web,
            dest: Dest::new(ip("198.51.100.14"), 80, ForwardMethod::Tunnel(gue0)),
        },
    )?;
    let absent = c.service(&missing)?;
    assert!(absent.is_none());
    println!("# get {missing}: none (ESRCH)");
    dump("get_service_missing", &mut c);

    c.timeouts()?;
    dump("get_config", &mut c);
    c.set_timeouts(Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    })?;
    dump("set_config", &mut c);

    let mut daemon = SyncDaemon::new(DaemonState::Master, "d0", 51);
    daemon.group = Some(ip("224.0.0.81"));
    daemon.port = Some(8848);
    daemon.ttl = Some(1);
    daemon.maxlen = Some(1400);
    c.start_daemon(&daemon)?;
    dump("new_daemon", &mut c);
    c.daemons()?;
    dump("get_daemon", &mut c);
    c.stop_daemon(DaemonState::Master)?;
    dump("del_daemon", &mut c);
    let mut backup = SyncDaemon::new(DaemonState::Backup, "d0", 52);
    backup.group = Some(ip("ff02::81"));
    backup.port = Some(8849);
    c.start_daemon(&backup)?;
    dump("new_daemon_backup6", &mut c);
    c.start_daemon(&SyncDaemon::new(DaemonState::Master, "d0", 51))?;
    dump("new_daemon_master_defaults", &mut c);
    c.daemons()?;
    dump("get_daemon_two", &mut c);
    c.stop_daemon(DaemonState::Backup)?;
    dump("del_daemon_backup", &mut c);
    c.stop_daemon(DaemonState::Master)?;
    dump("del_daemon_master", &mut c);

    // Counters: one TCP connection attempt from this namespace through a persistent service
    // (its NATed SYN leaves by the dummy d0 and is never answered), then read back.
    let tls = ServiceKey::tcp(ip("192.0.2.10"), 443);
    let mut tlss = Service::new(tls, "rr");
    tlss.flags = SvcFlags(SvcFlags::PERSISTENT);
    tlss.timeout = 60;
    c.apply(&[
        Op::AddService(tlss),
        Op::AddDest {
            service: tls,
            dest: Dest::new(ip("198.51.100.11"), 8443, ForwardMethod::Masq),
        },
    ])?
    .into_result()?;
    dump("apply_batch_of_two", &mut c);
    let to = SocketAddr::new(ip("192.0.2.10"), 443);
    let attempt = TcpStream::connect_timeout(&to, Duration::from_millis(300));
    println!("# connect {to}: {attempt:?}");
    // The kernel's counters are summed from per-cpu counts by the rate estimator, every 2 s.
    std::thread::sleep(Duration::from_secs(3));
    c.service(&tls)?;
    dump("get_service_counters", &mut c);
    c.dests(&tls)?;
    dump("get_dest_counters", &mut c);

    c.zero(Some(&web))?;
    dump("zero_service", &mut c);
    c.zero(None)?;
    dump("zero_all", &mut c);
    c.dests(&tls)?;
    dump("get_dest_zeroed", &mut c);
    c.apply(&[Op::DelDest {
        service: web,
        addr: ip("198.51.100.11"),
        port: 8080,
    }])?
    .into_result()?;
    dump("del_dest", &mut c);
    c.apply(&[Op::DelService(web)])?.into_result()?;
    dump("del_service", &mut c);
    c.flush()?;
    dump("flush", &mut c);

    // Without CAP_NET_ADMIN (root's capabilities go with the uid).
    // SAFETY: setuid has no memory effects; this process has no other threads.
    let r = unsafe { libc::setuid(65534) };
    assert_eq!(r, 0, "setuid: {}", std::io::Error::last_os_error());
    let denied = c.info().expect_err("GET_INFO without CAP_NET_ADMIN");
    println!("# {denied}");
    dump("get_info_unprivileged", &mut c);
    Ok(())
}
