//! The control plane's operator side: the request/response protocol spoken on the Unix control
//! socket between `lbctl` and `lbd` ([`proto`]), the socket server ([`server`]) with its
//! authorisation ([`auth`]), the client `lbctl` uses ([`client`]), and the HTTP listener with
//! `/metrics` and the read-only status page ([`http`], [`page`]) with its admission of
//! connections ([`admission`]).

pub mod admission;
pub mod auth;
pub mod client;
pub mod http;
pub mod lines;
pub mod page;
pub mod proto;
pub mod server;
