//! TLS (decision D13, Redis 6's directive names), with rustls and its ring
//! provider: the client listener on `tls-port`, and with `tls-cluster yes`
//! the cluster bus, mutually authenticated.
//!
//! * Clients: the node presents `tls-cert-file`/`tls-key-file`; with
//!   `tls-auth-clients yes` (the default) a client must present a
//!   certificate signed by `tls-ca-cert-file`, with `optional` it may, with
//!   `no` it is not asked.
//! * Bus: both ends present `tls-cert-file` and require the other's to be
//!   signed by `tls-ca-cert-file`. Nodes reach each other by IP address, so
//!   (as in Redis) the certificate chain is verified but not the name in it.
//! * `tls-protocols`: `TLSv1.2` and/or `TLSv1.3` (default both).

use crate::config::{Config, TlsAuthClients};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme, SupportedProtocolVersion,
};
use std::sync::Arc;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The TLS contexts a node uses, built once at startup.
#[derive(Clone)]
pub struct Tls {
    /// For connections to `tls-port` (when set).
    pub clients: Option<TlsAcceptor>,
    /// For the bus with `tls-cluster yes`: inbound and outbound.
    pub bus: Option<(TlsAcceptor, TlsConnector)>,
}

/// The protocol versions named by a `tls-protocols` value (words
/// `TLSv1.2`, `TLSv1.3`, case-insensitive; empty = both); `None` for
/// anything else.
pub fn protocol_versions(value: &str) -> Option<Vec<&'static SupportedProtocolVersion>> {
    let mut versions: Vec<&'static SupportedProtocolVersion> = Vec::new();
    for word in value.split_whitespace() {
        let v = if word.eq_ignore_ascii_case("TLSv1.2") {
            &rustls::version::TLS12
        } else if word.eq_ignore_ascii_case("TLSv1.3") {
            &rustls::version::TLS13
        } else {
            return None;
        };
        if !versions.iter().any(|x| x.version == v.version) {
            versions.push(v);
        }
    }
    if versions.is_empty() {
        versions = vec![&rustls::version::TLS12, &rustls::version::TLS13];
    }
    Some(versions)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("Failed to load certificate: {path}: {e}"))?
        .collect();
    let certs = certs.map_err(|e| format!("Failed to load certificate: {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load certificate: {path}: no certificate"
        ));
    }
    Ok(certs)
}

fn private_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("Failed to load private key: {path}: {e}"))
}

fn roots(config: &Config) -> Result<Arc<RootCertStore>, String> {
    if config.tls_ca_cert_file.is_empty() {
        return Err("tls-ca-cert-file is needed to verify peers".into());
    }
    let mut roots = RootCertStore::empty();
    for cert in certificates(&config.tls_ca_cert_file)? {
        roots
            .add(cert)
            .map_err(|e| format!("Failed to load CA certificate: {e}"))?;
    }
    Ok(Arc::new(roots))
}

/// The server side: our certificate; peers verified as `auth` says.
fn server_config(config: &Config, auth: TlsAuthClients) -> Result<ServerConfig, String> {
    let versions = protocol_versions(&config.tls_protocols).ok_or("Invalid tls-protocols")?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let builder = match auth {
        TlsAuthClients::No => builder.with_no_client_auth(),
        TlsAuthClients::Yes | TlsAuthClients::Optional => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots(config)?, provider());
            let verifier = if auth == TlsAuthClients::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?)
        }
    };
    builder
        .with_single_cert(
            certificates(&config.tls_cert_file)?,
            private_key(&config.tls_key_file)?,
        )
        .map_err(|e| format!("Invalid certificate or key: {e}"))
}

/// The bus's client side: our certificate, the peer's chain verified.
fn bus_client_config(config: &Config) -> Result<ClientConfig, String> {
    let versions = protocol_versions(&config.tls_protocols).ok_or("Invalid tls-protocols")?;
    let inner = WebPkiServerVerifier::builder_with_provider(roots(config)?, provider())
        .build()
        .map_err(|e| e.to_string())?;
    ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
        .with_client_auth_cert(
            certificates(&config.tls_cert_file)?,
            private_key(&config.tls_key_file)?,
        )
        .map_err(|e| format!("Invalid certificate or key: {e}"))
}

/// Builds the contexts the configuration asks for; `Ok(None)` when TLS is
/// not used at all. The error is logged before the node exits.
pub fn setup(config: &Config) -> Result<Option<Tls>, String> {
    if config.tls_port == 0 && !config.tls_cluster {
        return Ok(None);
    }
    let fail = |e: String| format!("Failed to configure TLS: {e}");
    let clients = if config.tls_port != 0 {
        let server = server_config(config, config.tls_auth_clients).map_err(fail)?;
        Some(TlsAcceptor::from(Arc::new(server)))
    } else {
        None
    };
    let bus = if config.tls_cluster {
        let server = server_config(config, TlsAuthClients::Yes).map_err(fail)?;
        let client = bus_client_config(config).map_err(fail)?;
        Some((
            TlsAcceptor::from(Arc::new(server)),
            TlsConnector::from(Arc::new(client)),
        ))
    } else {
        None
    };
    Ok(Some(Tls { clients, bus }))
}

/// Verifies a peer's certificate chain, not the name in it (bus peers are
/// reached by address).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The chain is checked before the name: a name error means the
        // chain was good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names() {
        assert_eq!(protocol_versions("").map(|v| v.len()), Some(2));
        assert_eq!(protocol_versions("tlsv1.3").map(|v| v.len()), Some(1));
        assert_eq!(
            protocol_versions("TLSv1.2 TLSv1.3 TLSv1.2").map(|v| v.len()),
            Some(2)
        );
        assert!(protocol_versions("TLSv1.1").is_none());
        assert!(protocol_versions("SSLv3 TLSv1.3").is_none());
    }

    #[test]
    fn missing_files_are_reported() {
        let config = Config {
            tls_port: 1,
            tls_cert_file: "/nonexistent/cert.pem".into(),
            tls_key_file: "/nonexistent/key.pem".into(),
            tls_ca_cert_file: "/nonexistent/ca.pem".into(),
            ..Config::default()
        };
        let err = setup(&config).err().unwrap();
        assert!(err.starts_with("Failed to configure TLS: "), "{err}");
        assert!(setup(&Config::default()).unwrap().is_none());
    }
}
