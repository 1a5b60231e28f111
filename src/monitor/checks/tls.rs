//! TLS for `https` checks: rustls with the `ring` provider, verification against a CA file or
//! the system's roots (or switched off), a client certificate for servers that ask for one,
//! and the peer certificate's expiry.

use crate::monitor::outcome::CheckError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// A client configuration: verify against `ca_file` (or the system's roots) or not at all;
/// with `client` (certificate chain, key; PEM files) the certificate is sent when asked for.
pub fn client_config(
    verify: bool,
    ca_file: Option<&Path>,
    client: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, CheckError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| CheckError::Tls(e.to_string()))?;
    let mut config = if verify {
        let mut roots = RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
                    CheckError::Spec(format!("cannot read ca_file {}: {e}", path.display()))
                })?;
                for cert in certs {
                    let cert = cert.map_err(|e| {
                        CheckError::Spec(format!("bad certificate in {}: {e}", path.display()))
                    })?;
                    roots.add(cert).map_err(|e| {
                        CheckError::Spec(format!("bad certificate in {}: {e}", path.display()))
                    })?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        let builder = builder.with_root_certificates(roots);
        match client {
            Some((cert, key)) => {
                let (chain, key) = client_identity(cert, key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| CheckError::Spec(format!("client certificate: {e}")))?
            }
            None => builder.with_no_client_auth(),
        }
    } else {
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)));
        match client {
            Some((cert, key)) => {
                let (chain, key) = client_identity(cert, key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| CheckError::Spec(format!("client certificate: {e}")))?
            }
            None => builder.with_no_client_auth(),
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads a PEM certificate chain and its private key.
fn client_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CheckError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            CheckError::Spec(format!("cannot read client_cert {}: {e}", cert.display()))
        })?;
    if chain.is_empty() {
        return Err(CheckError::Spec(format!(
            "no certificate in client_cert {}",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| CheckError::Spec(format!("cannot read client_key {}: {e}", key.display())))?;
    Ok((chain, key))
}

/// The server name to send (SNI) and verify: a DNS name or an IP address.
pub fn server_name(name: &str) -> Result<ServerName<'static>, CheckError> {
    ServerName::try_from(name.to_string())
        .map_err(|_| CheckError::Spec(format!("invalid tls server name {name:?}")))
}

/// Seconds since the epoch when the certificate stops being valid.
pub fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// A warning when the certificate expires within `warn_days` of `now` (seconds since the epoch).
pub fn expiry_warning(not_after: i64, now: i64, warn_days: u32) -> Option<String> {
    let left = not_after - now;
    if left < 0 {
        Some(format!("certificate expired {} days ago", (-left) / 86_400))
    } else if left < i64::from(warn_days) * 86_400 {
        Some(format!("certificate expires in {} days", left / 86_400))
    } else {
        None
    }
}

/// Accepts any certificate (`verify: false`); signatures are still checked so the handshake
/// stays a real one.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_warnings() {
        let day = 86_400;
        assert_eq!(expiry_warning(100 * day, 0, 14), None);
        assert_eq!(
            expiry_warning(5 * day + 10, 0, 14).as_deref(),
            Some("certificate expires in 5 days")
        );
        assert_eq!(
            expiry_warning(0, 3 * day, 14).as_deref(),
            Some("certificate expired 3 days ago")
        );
        assert_eq!(not_after(b"not a certificate"), None);
    }
}
