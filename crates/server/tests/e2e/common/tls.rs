//! Certificates made at test time (rcgen) and a TLS client (rustls), for
//! the TLS tests (decision D13).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// PEM files in a directory: a CA, a node certificate (for 127.0.0.1 and
/// localhost, server and client use) and a client certificate, all signed
/// by the CA; and a second CA with a client certificate of its own.
pub struct Certs {
    pub ca: PathBuf,
    pub node_cert: PathBuf,
    pub node_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub stranger_cert: PathBuf,
    pub stranger_key: PathBuf,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).expect("CA"), key)
}

fn leaf(
    names: &[&str],
    usages: Vec<ExtendedKeyUsagePurpose>,
    issuer: &(rcgen::Certificate, KeyPair),
) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("params");
    params.extended_key_usages = usages;
    let cert = params.signed_by(&key, &issuer.0, &issuer.1).expect("sign");
    (cert.pem(), key.serialize_pem())
}

impl Certs {
    /// Makes them in `dir`.
    pub fn make(dir: &Path) -> Certs {
        use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        let authority = ca("disque test CA");
        let (node_cert, node_key) = leaf(
            &["127.0.0.1", "localhost"],
            vec![ServerAuth, ClientAuth],
            &authority,
        );
        let (client_cert, client_key) = leaf(&["client"], vec![ClientAuth], &authority);
        let other = ca("another CA");
        let (stranger_cert, stranger_key) =
            leaf(&["127.0.0.1"], vec![ServerAuth, ClientAuth], &other);
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a PEM file");
            path
        };
        Certs {
            ca: write("ca.pem", &authority.0.pem()),
            node_cert: write("node.pem", &node_cert),
            node_key: write("node.key", &node_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            stranger_cert: write("stranger.pem", &stranger_cert),
            stranger_key: write("stranger.key", &stranger_key),
        }
    }

    /// The `--tls-*` options of a node using these certificates.
    pub fn node_args(&self) -> Vec<(&'static str, String)> {
        vec![
            ("tls-cert-file", self.node_cert.display().to_string()),
            ("tls-key-file", self.node_key.display().to_string()),
            ("tls-ca-cert-file", self.ca.display().to_string()),
        ]
    }

    /// A TLS connection to 127.0.0.1:`port` that trusts the CA and presents
    /// `client` (certificate, key) if given.
    pub async fn connect(
        &self,
        port: u16,
        client: Option<(&Path, &Path)>,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca).expect("CA") {
            roots.add(cert.expect("CA")).expect("CA");
        }
        let builder = ClientConfig::builder().with_root_certificates(roots);
        let config = match client {
            Some((cert, key)) => {
                let chain: Vec<_> = CertificateDer::pem_file_iter(cert)
                    .expect("cert")
                    .map(|c| c.expect("cert"))
                    .collect();
                let key = PrivateKeyDer::from_pem_file(key).expect("key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("client cert")
            }
            None => builder.with_no_client_auth(),
        };
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        let name = ServerName::try_from("127.0.0.1").expect("name");
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    }
}
