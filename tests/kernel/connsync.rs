//! Connection sync across a director failover (issue 7): two real `lbd` daemons with VRRP and
//! the IPVS sync daemon; a long-lived TCP connection from `client` through the VIP (NAT) to an
//! echo server on rs1 carries data before the master dies, the backup receives the connection
//! from the sync daemon, takes the VIPs, and the same connection goes on carrying data; new
//! connections work too.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};

use super::daemon::{lab_config, tail, tempdir, wait_for, write, Lbd};
use super::netns::{self, in_netns};
use super::topology::{Options, Topology};
use super::vrrp::{director_extra, has_vip, role, sync_is};

pub fn tests() -> Vec<Trial> {
    vec![Trial::test(
        "connsync::established_connection_survives_failover",
        || survives_failover().map_err(Failed::from),
    )]
}

/// An echo server on rs1:7000 (a thread; the listening socket lives in rs1's namespace).
struct Echo {
    stop: Arc<AtomicBool>,
}

impl Echo {
    fn start() -> Result<Echo, String> {
        let listener = in_netns("rs1", || TcpListener::bind("0.0.0.0:7000"))
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("bind rs1:7000: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        std::thread::spawn(move || {
                            let _ = conn.set_nonblocking(false);
                            let mut buf = [0u8; 1024];
                            while let Ok(n) = conn.read(&mut buf) {
                                if n == 0 || conn.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Echo { stop })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn echo(stream: &mut TcpStream, text: &str) -> Result<(), String> {
    stream
        .write_all(text.as_bytes())
        .map_err(|e| format!("send {text:?}: {e}"))?;
    let mut got = vec![0u8; text.len()];
    stream
        .read_exact(&mut got)
        .map_err(|e| format!("echo of {text:?}: {e}"))?;
    if got != text.as_bytes() {
        return Err(format!(
            "echo of {text:?} came back as {:?}",
            String::from_utf8_lossy(&got)
        ));
    }
    Ok(())
}

fn connect(vip: SocketAddr) -> Result<TcpStream, String> {
    let s = in_netns("client", || {
        TcpStream::connect_timeout(&vip, Duration::from_secs(5))
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("connect {vip}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

fn survives_failover() -> Result<(), String> {
    let _topology = Topology::up(Options {
        real_servers: 3,
        static_gateway: false,
    })?;
    let _echo = Echo::start()?;
    let tmp = tempdir()?;
    let (s1, s2) = (tmp.path().join("s1.sock"), tmp.path().join("s2.sock"));
    let (c1, c2) = (tmp.path().join("c1"), tmp.path().join("c2"));
    for (dir, sock, prio, name) in [(&c1, &s1, 150, "dir1"), (&c2, &s2, 100, "dir2")] {
        lab_config(dir, "", &director_extra(sock, prio))?;
        let d = dir.join("director.yaml");
        let text = std::fs::read_to_string(&d).map_err(|e| e.to_string())?;
        write(&d, &text.replace("name: dir1", &format!("name: {name}")))?;
        write(
            &dir.join("hostgroups/echo_nodes.yaml"),
            "nodes:\n  - {name: rs1, address: 198.51.100.11}\n",
        )?;
        write(
            &dir.join("services/echo.yaml"),
            "virtual: {address: 192.0.2.10, port: 7000}\nscheduler: rr\nhostgroup: echo_nodes\n\
             watch:\n  monitor: tcp\n  interval: 1s\n  timeout: 500ms\n",
        )?;
    }
    let lbd1 = Lbd::start("dir1", &c1, &tmp.path().join("st1"), &tmp.path().join("l1"))?;
    let lbd2 = Lbd::start("dir2", &c2, &tmp.path().join("st2"), &tmp.path().join("l2"))?;
    let logs = |a: &Lbd, b: &Lbd| format!("dir1:\n{}\ndir2:\n{}", tail(&a.log()), tail(&b.log()));
    let ready = wait_for(
        "dir1 master with rs1:7000, dir2 backup, sync daemons",
        Duration::from_secs(30),
        || {
            Ok(role(&s1).unwrap_or_default() == "master"
                && role(&s2).unwrap_or_default() == "backup"
                && has_vip("dir1")?
                && sync_is("dir1", "master")?
                && sync_is("dir2", "backup")?
                && netns::run("dir1", &["ipvsadm", "-Ln", "-t", "192.0.2.10:7000"])
                    .is_ok_and(|t| t.contains("198.51.100.11:7000")))
        },
    );
    ready.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;

    // A long-lived connection through the VIP, carrying data (enough packets to be synced).
    let vip: SocketAddr = "192.0.2.10:7000".parse().map_err(|e| format!("{e}"))?;
    let mut held = connect(vip)?;
    let local = held.local_addr().map_err(|e| e.to_string())?;
    for i in 0..5 {
        echo(&mut held, &format!("before {i}\n"))?;
    }
    let client_end = format!("192.0.2.100:{}", local.port());
    let synced = wait_for(
        "the backup has the connection",
        Duration::from_secs(10),
        || {
            Ok(netns::run("dir2", &["ipvsadm", "-Lnc"])?
                .lines()
                .any(|l| l.contains(&client_end) && l.contains("198.51.100.11:7000")))
        },
    );
    synced.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;

    // The master dies: lbd killed, links down, the addresses it held gone with the power.
    let t0 = Instant::now();
    lbd1.signal(libc::SIGKILL);
    for cmd in [
        "ip link set eth0 down",
        "ip link set eth1 down",
        "ip addr flush dev eth0 to 192.0.2.10/32",
        "ip addr flush dev eth1 to 198.51.100.1/32",
    ] {
        netns::run("dir1", &["sh", "-c", cmd])?;
    }
    let took = wait_for("dir2 holds the VIP", Duration::from_secs(15), || {
        has_vip("dir2")
    });
    took.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    eprintln!("dir2 took over {:?} after the kill", t0.elapsed());

    // The same connection goes on: data both ways through the new master.
    echo(&mut held, "after the failover\n").map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    eprintln!(
        "the held connection carried data {:?} after the kill",
        t0.elapsed()
    );
    let _ = held.shutdown(Shutdown::Both);
    // And new connections work.
    let mut fresh = connect(vip)?;
    echo(&mut fresh, "new connection\n")?;
    drop(lbd2);
    Ok(())
}
