//! [`Secret`]: a configured secret (a VRRPv2 password) that no view shows.
//!
//! It reads from configuration as a plain string, but its `Debug` and its serialized form are
//! [`Secret::REDACTED`], so a log line, a status document or a recorded trace that carries a
//! configuration never carries the secret. Only [`Secret::expose`] gives the text, for the
//! code that needs it (the VRRPv2 codec).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret string: readable only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// What `Debug` and serialization show instead of the secret.
    pub const REDACTED: &'static str = "***";

    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(Secret::REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shown() {
        let s: Secret = serde_json::from_str("\"hunter22\"").unwrap();
        assert_eq!(s.expose(), "hunter22");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
    }
}
