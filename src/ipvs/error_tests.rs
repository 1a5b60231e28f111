//! Kernel errno → typed error in words, per request kind.

use super::client::target_of;
use super::*;

fn key() -> ServiceKey {
    ServiceKey::tcp("192.0.2.10".parse().unwrap(), 80)
}

fn err(op: &Op, errno: i32) -> String {
    IpvsError::from_kernel(op.to_message().cmd, &target_of(op), errno).to_string()
}

#[test]
fn errors_name_object_and_cause() {
    let add = Op::AddService(Service::new(key(), "xyz"));
    assert_eq!(
        err(&add, libc::EEXIST),
        "virtual service tcp 192.0.2.10:80 already exists"
    );
    assert_eq!(
        err(&add, libc::ENOENT),
        "scheduler 'xyz' is not available in this kernel"
    );
    assert_eq!(
        err(&add, libc::EPERM),
        "permission denied: CAP_NET_ADMIN needed"
    );
    let del = Op::DelService(key());
    assert_eq!(
        err(&del, libc::ESRCH),
        "virtual service tcp 192.0.2.10:80 does not exist"
    );
    let d = Dest::new("198.51.100.11".parse().unwrap(), 80, ForwardMethod::Masq);
    let add_d = Op::AddDest {
        service: key(),
        dest: d.clone(),
    };
    assert_eq!(
        err(&add_d, libc::EEXIST),
        "real server 198.51.100.11:80 already exists in virtual service tcp 192.0.2.10:80"
    );
    assert!(err(&add_d, libc::ERANGE)
        .starts_with("real server 198.51.100.11:80 in virtual service tcp 192.0.2.10:80: weight"));
    assert!(err(&add_d, libc::EINVAL).contains("unicast"));
    let del_d = Op::DelDest {
        service: key(),
        addr: d.addr,
        port: 80,
    };
    assert_eq!(
        err(&del_d, libc::ENOENT),
        "real server 198.51.100.11:80 does not exist in virtual service tcp 192.0.2.10:80"
    );
    assert_eq!(
        err(&del_d, libc::EBUSY),
        format!(
            "delete real server 198.51.100.11:80 from virtual service tcp 192.0.2.10:80: {}",
            std::io::Error::from_raw_os_error(libc::EBUSY)
        )
    );
}
