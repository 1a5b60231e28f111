//! Captures byte fixtures from a real IPVS kernel: performs one request of every kind and
//! prints each step's sent and received datagrams as hex, in the format of
//! `src/ipvs/fixtures/*.txt`. Run it in a fresh network namespace of the lab guest (see the
//! header of the fixture file for the exact command); it needs a `d0` interface holding
//! 198.51.100.1/24 and 2001:db8:1::1/64.

use std::net::IpAddr;

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

    c.zero(Some(&web))?;
    dump("zero_service", &mut c);
    c.zero(None)?;
    dump("zero_all", &mut c);
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
    Ok(())
}
