//! Operator-facing output of `lbctl` subcommands, kept apart from argument parsing.

pub mod apply;
pub mod table;

#[cfg(test)]
mod table_tests;
