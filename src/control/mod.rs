//! The control plane's operator side: the request/response protocol spoken on the Unix control
//! socket between `lbctl` and `lbd` ([`proto`]).

pub mod proto;
