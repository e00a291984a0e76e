//! `--tls`: a connection verified against `--cacert` (no system store is
//! read), presenting `--cert`/`--key` when given, with the server's name
//! (`-h`, an address or a host name) checked in its certificate.

use std::io;
use std::sync::Arc;

use disque_client::Client;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::options::TlsOptions;

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn certificates(path: &std::path::Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let read = |e: rustls::pki_types::pem::Error| invalid(format!("{}: {e}", path.display()));
    CertificateDer::pem_file_iter(path)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)
}

/// The client configuration the options ask for.
pub fn client_config(options: &TlsOptions) -> io::Result<ClientConfig> {
    let Some(cacert) = &options.cacert else {
        return Err(invalid(
            "--tls needs --cacert (no system certificate store is read)".into(),
        ));
    };
    let mut roots = RootCertStore::empty();
    for cert in certificates(cacert)? {
        roots
            .add(cert)
            .map_err(|e| invalid(format!("{}: {e}", cacert.display())))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_root_certificates(roots);
    match (&options.cert, &options.key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| invalid(format!("{}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(certificates(cert)?, key)
                .map_err(|e| invalid(e.to_string()))
        }
        _ => Err(invalid("--cert and --key go together".into())),
    }
}

/// Connects to `host:port` over TLS.
pub async fn connect(host: &str, port: u16, options: &TlsOptions) -> io::Result<Client> {
    let config = client_config(options)?;
    let name =
        ServerName::try_from(host.to_string()).map_err(|e| invalid(format!("{host}: {e}")))?;
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let peer = tcp.peer_addr().ok();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    Ok(Client::over(stream, peer))
}
