//! TLS for each `sslmode`, with rustls and its `ring` provider.
//!
//! One [`Tls`] is built per pool, from the configuration: the files are read,
//! the key decrypted and the rustls `ClientConfig` built once, and every
//! connection (exclusive or shared, and their cancel requests) uses it.
//!
//! What each mode checks, as libpq does:
//! - `require` (and `prefer`, `allow` when they end up encrypting): nothing,
//!   unless `ssl_root_cert` is given, in which case the chain is checked as
//!   in `verify-ca`;
//! - `verify-ca`: the chain up to a trusted root, not the host name;
//! - `verify-full`: the chain and the host name.
//!
//! Roots are `ssl_root_cert`, or the platform's store when it is not given
//! (or is the word `system`, as in libpq 16).

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::{Host, SslMode as DriverSslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DatabaseConfig, SslMode};
use crate::error::{Error, Result, TlsFailure};

/// How a pool's connections negotiate TLS.
#[derive(Clone)]
pub(crate) struct Tls {
    mode: SslMode,
    /// `None` only for `disable`, which never builds a rustls config.
    connector: Option<MakeRustlsConnect>,
}

impl Tls {
    /// Reads the files the configuration names and builds the rustls
    /// configuration; every failure is [`Error::Tls`] naming the file.
    pub(crate) fn from_config(config: &DatabaseConfig) -> Result<Tls> {
        let mode = config.effective_ssl_mode();
        if mode == SslMode::Disable {
            return Ok(Tls {
                mode,
                connector: None,
            });
        }
        let client = client_config(config, mode)?;
        Ok(Tls {
            mode,
            connector: Some(MakeRustlsConnect::new(client)),
        })
    }

    /// Connects with this TLS mode and spawns the connection's task.
    ///
    /// `prefer` falls back to plain text when the server refuses TLS (the
    /// driver does that) and also when the handshake itself fails, as
    /// libpq does; `allow` tries plain text first and TLS when the server
    /// refuses a plain connection (`pg_hba.conf` has only `hostssl`).
    /// A Unix socket never uses TLS: the server does not offer it there
    /// (`pg_config` already asks for none).
    ///
    /// Boxed: the driver's connect futures are deep, and every query future
    /// that may open a connection would otherwise carry their layout.
    pub(crate) fn connect<'a>(
        &'a self,
        pg: &'a tokio_postgres::Config,
    ) -> Pin<Box<dyn Future<Output = Connected> + Send + 'a>> {
        Box::pin(self.connect_inner(pg))
    }

    async fn connect_inner(&self, pg: &tokio_postgres::Config) -> Connected {
        let Some(connector) = self.connector.as_ref().filter(|_| !is_unix_socket(pg)) else {
            return connect_with(pg, NoTls).await;
        };
        match self.mode {
            SslMode::Allow => match connect_with(pg, NoTls).await {
                Err(e) if e.code() == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION) => {
                    let mut encrypted = pg.clone();
                    encrypted.ssl_mode(DriverSslMode::Require);
                    connect_with(&encrypted, connector.clone()).await
                }
                other => other,
            },
            SslMode::Prefer => match connect_with(pg, connector.clone()).await {
                Err(e) if handshake_failed(&e) => {
                    let mut plain = pg.clone();
                    plain.ssl_mode(DriverSslMode::Disable);
                    connect_with(&plain, NoTls).await
                }
                other => other,
            },
            _ => connect_with(pg, connector.clone()).await,
        }
    }

    /// The connector for this pool's cancel requests: the driver's cancel
    /// token negotiates TLS as its connection did, and needs one when that
    /// was (or may have been) encrypted.
    pub(crate) fn connector(&self) -> Option<&MakeRustlsConnect> {
        self.connector.as_ref()
    }
}

/// A client and its connection's task, or the driver's error.
pub(crate) type Connected =
    std::result::Result<(Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>;

async fn connect_with<T>(pg: &tokio_postgres::Config, tls: T) -> Connected
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = pg.connect(tls).await?;
    // The connection's error surfaces to callers through the client.
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, task))
}

/// Whether a failed connect is a TLS handshake failure (the driver's
/// wording for its TLS error kind).
fn handshake_failed(err: &tokio_postgres::Error) -> bool {
    err.to_string()
        .starts_with("error performing TLS handshake")
}

/// The rustls error inside a driver error, if the handshake failed there.
pub(crate) fn refused_certificate<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // `io::Error::source` skips the error it wraps; look inside.
        if let Some(inner) = e
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(inner);
        }
        cause = e.source();
    }
    None
}

/// An [`Error::Tls`] for a connect that failed in TLS, with the reason in
/// words; `None` for any other failure.
pub(crate) fn connect_error(err: &tokio_postgres::Error, place: &str) -> Option<Error> {
    if let Some(tls) = refused_certificate(err) {
        let (reason, why) = describe(tls);
        return Some(Error::tls(reason, None, format!("{place}: {why}")));
    }
    let text = crate::error::with_causes(err);
    if text.contains("server does not support TLS") {
        return Some(Error::tls(
            TlsFailure::NotOffered,
            None,
            format!(
                "{place}: the server does not offer TLS, and the ssl mode requires it \
                 (set ssl = on on the server, or use sslmode=prefer)"
            ),
        ));
    }
    None
}

/// The kind of a refused handshake and a sentence that says what to do.
fn describe(err: &rustls::Error) -> (TlsFailure, String) {
    use CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => (
                TlsFailure::UnknownIssuer,
                "the server's certificate was not issued by a trusted CA (unknown issuer); \
                 set ssl_root_cert to the CA that signed it"
                    .to_owned(),
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => (
                TlsFailure::HostName,
                format!(
                    "host name mismatch: {cert}; connect by a name the certificate lists, \
                     or use verify-ca"
                ),
            ),
            C::Expired | C::ExpiredContext { .. } => (
                TlsFailure::Expired,
                format!("the server's certificate has expired: {cert}"),
            ),
            C::NotValidYet | C::NotValidYetContext { .. } => (
                TlsFailure::Expired,
                format!("the server's certificate is not valid yet: {cert}"),
            ),
            other => (
                TlsFailure::Handshake,
                format!("the server's certificate was refused: {other}"),
            ),
        },
        other => (
            TlsFailure::Handshake,
            format!("TLS handshake failed: {other}"),
        ),
    }
}

fn provider() -> Arc<CryptoProvider> {
    // Named explicitly rather than through the process default: another
    // crate in the binary may enable a second provider, and then rustls'
    // default would panic.
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(config: &DatabaseConfig, mode: SslMode) -> Result<ClientConfig> {
    let provider = provider();
    let root_file = config
        .ssl_root_cert
        .as_deref()
        .filter(|p| p.as_os_str() != "system");
    let checks_chain =
        matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) || config.ssl_root_cert.is_some();
    let roots = if checks_chain {
        Some(Arc::new(match root_file {
            Some(path) => roots_from_file(path)?,
            None => platform_roots()?,
        }))
    } else {
        None
    };
    let verifier: Arc<dyn ServerCertVerifier> = match roots {
        Some(roots) if mode == SslMode::VerifyFull => {
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| {
                    Error::tls(
                        TlsFailure::File,
                        root_file,
                        format!("the root certificates cannot be used: {e}"),
                    )
                })?
        }
        roots => Arc::new(ChainOnly {
            roots,
            algorithms: provider.signature_verification_algorithms,
        }),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::tls(TlsFailure::Handshake, None, e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (&config.ssl_cert, &config.ssl_key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "ssl_cert")?;
            let key_der = private_key(key, config.ssl_key_password.as_deref())?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                Error::tls(
                    TlsFailure::File,
                    Some(key),
                    format!("the client key does not fit the client certificate: {e}"),
                )
            })
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        // `validate` refuses one without the other.
        _ => Err(Error::config("ssl_key", "ssl_cert and ssl_key go together")),
    }
}

fn read_file(path: &Path, field: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::tls(
            TlsFailure::File,
            Some(path),
            format!("cannot read {field} {}: {e}", path.display()),
        )
    })
}

fn certificates(path: &Path, field: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_file(path, field)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::tls(
                TlsFailure::File,
                Some(path),
                format!("{field} {} is not valid PEM: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(Error::tls(
            TlsFailure::File,
            Some(path),
            format!("{field} {} holds no PEM certificate", path.display()),
        ));
    }
    Ok(certs)
}

fn roots_from_file(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path, "ssl_root_cert")? {
        roots.add(cert).map_err(|e| {
            Error::tls(
                TlsFailure::File,
                Some(path),
                format!(
                    "ssl_root_cert {} holds an unusable certificate: {e}",
                    path.display()
                ),
            )
        })?;
    }
    Ok(roots)
}

/// The platform's trusted roots (on Linux the system bundle, which
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` override).
fn platform_roots() -> Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_owned(), ToString::to_string);
        return Err(Error::tls(
            TlsFailure::File,
            None,
            format!(
                "no trusted root certificates in the platform store ({why}); \
                 set ssl_root_cert to the server's CA file"
            ),
        ));
    }
    Ok(roots)
}

const ENCRYPTED_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// The client key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM, or an encrypted
/// PKCS#8 PEM opened with `password`.
fn private_key(path: &Path, password: Option<&str>) -> Result<PrivateKeyDer<'static>> {
    let pem = read_file(path, "ssl_key")?;
    let bad = |message: String| Error::tls(TlsFailure::File, Some(path), message);
    let text = String::from_utf8_lossy(&pem);
    if text.contains(&format!("-----BEGIN {ENCRYPTED_LABEL}-----")) {
        let Some(password) = password else {
            return Err(Error::tls(
                TlsFailure::KeyPassword,
                Some(path),
                format!(
                    "ssl_key {} is encrypted and no ssl_key_password is set",
                    path.display()
                ),
            ));
        };
        let (label, doc) = pkcs8::der::Document::from_pem(&text)
            .map_err(|e| bad(format!("ssl_key {} is not valid PEM: {e}", path.display())))?;
        if label != ENCRYPTED_LABEL {
            return Err(bad(format!(
                "ssl_key {} holds a {label:?} section before its encrypted key",
                path.display()
            )));
        }
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes()).map_err(|e| {
            bad(format!(
                "ssl_key {} is not an encrypted PKCS#8 key: {e}",
                path.display()
            ))
        })?;
        let plain = info.decrypt(password).map_err(|e| {
            Error::tls(
                TlsFailure::KeyPassword,
                Some(path),
                format!(
                    "ssl_key {} could not be decrypted with ssl_key_password \
                     (wrong password, or an unsupported cipher): {e}",
                    path.display()
                ),
            )
        })?;
        return Ok(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec()).into());
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(bad(format!(
            "ssl_key {} is encrypted in OpenSSL's legacy format; convert it to encrypted \
             PKCS#8 (openssl pkcs8 -topk8 -v2 aes-256-cbc)",
            path.display()
        )));
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        bad(format!(
            "ssl_key {} holds no usable PEM private key: {e}",
            path.display()
        ))
    })
}

/// The checks short of the host name: `require` without a root certificate
/// checks no chain (`roots` is `None`), as libpq; `verify-ca` (and
/// `require` with a root) checks the chain up to a trusted root, its dates
/// and usage. Either way the handshake signature is checked, so the server
/// must hold the key of the certificate it shows.
#[derive(Debug)]
struct ChainOnly {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Whether the driver config connects over a Unix socket, where the
/// server never offers TLS and libpq ignores `sslmode`.
pub(crate) fn is_unix_socket(pg: &tokio_postgres::Config) -> bool {
    #[cfg(unix)]
    {
        matches!(pg.get_hosts().first(), Some(Host::Unix(_)))
    }
    #[cfg(not(unix))]
    {
        let _ = pg;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_named_by_their_cause() {
        let cases = [
            (
                CertificateError::UnknownIssuer,
                TlsFailure::UnknownIssuer,
                "unknown issuer",
            ),
            (
                CertificateError::NotValidForName,
                TlsFailure::HostName,
                "host name mismatch",
            ),
            (
                CertificateError::Expired,
                TlsFailure::Expired,
                "has expired",
            ),
            (
                CertificateError::NotValidYet,
                TlsFailure::Expired,
                "not valid yet",
            ),
            (
                CertificateError::Revoked,
                TlsFailure::Handshake,
                "was refused",
            ),
        ];
        for (cert, failure, words) in cases {
            let (got, message) = describe(&rustls::Error::InvalidCertificate(cert));
            assert_eq!(got, failure);
            assert!(message.contains(words), "{message}");
        }
        let (got, message) = describe(&rustls::Error::DecryptError);
        assert_eq!(got, TlsFailure::Handshake);
        assert!(message.starts_with("TLS handshake failed"), "{message}");
    }

    #[test]
    fn a_rustls_error_is_found_inside_an_io_error() {
        // tokio-rustls reports handshake failures as io::Error, whose
        // `source` skips the error it wraps.
        let wrapped = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert!(matches!(
            refused_certificate(&wrapped),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ));
        let plain = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        assert!(refused_certificate(&plain).is_none());
    }

    #[test]
    fn disable_builds_no_rustls_config_and_reads_no_file() {
        let config = DatabaseConfig {
            ssl_root_cert: Some("/nonexistent/ca.pem".into()),
            ..DatabaseConfig::default().with_ssl_mode(SslMode::Disable)
        };
        let tls = Tls::from_config(&config).map_err(|e| e.to_string());
        assert!(tls.is_ok_and(|t| t.connector().is_none()));
    }
}
