//! TLS against a private cluster with `ssl = on` and certificates made here
//! with rcgen: each ssl mode's checks, mutual TLS with an encrypted key,
//! the session seen from the server (`pg_stat_ssl`) on shared and
//! exclusive connections, and a cancel sent over TLS.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pgdbm::testing::TestCluster;
use pgdbm::{Database, DatabaseConfig, Error, SslMode, TlsFailure};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::sync::OnceCell;

const KEY_PASSWORD: &str = "correct horse";

/// A CA, a server certificate for `localhost` only (so connecting by
/// 127.0.0.1 is a host name mismatch), a client certificate for the role
/// `mtls`, and a second CA that signed nothing the server shows.
struct Pki {
    ca: String,
    other_ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key_encrypted: String,
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    names: Vec<String>,
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> (String, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![usage];
    (params.signed_by(&key, issuer).unwrap().pem(), key)
}

/// The key as encrypted PKCS#8 PEM (PBES2: PBKDF2-SHA256, AES-256-CBC),
/// as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it.
fn encrypted_pem(key: &KeyPair, password: &str) -> String {
    use pkcs8::der::pem::LineEnding;
    let der = key.serialize_der();
    let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"pgdbm-salt", &[7; 16])
            .unwrap();
    let doc = info.encrypt_with_params(params, password).unwrap();
    doc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .unwrap()
        .to_string()
}

fn pki() -> Pki {
    let (ca_pem, issuer) = ca("pgdbm test CA");
    let (other_ca, _) = ca("pgdbm unrelated CA");
    let (server_cert, server_key) = leaf(
        &issuer,
        vec!["localhost".to_owned()],
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(
        &issuer,
        Vec::new(),
        "mtls",
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    Pki {
        ca: ca_pem,
        other_ca,
        server_cert,
        server_key: server_key.serialize_pem(),
        client_cert,
        client_key_encrypted: encrypted_pem(&client_key, KEY_PASSWORD),
    }
}

/// `mtls` must show a certificate for its own name; `tlsonly` is refused
/// in plain text; everyone else may come either way.
const PG_HBA: &str = "\
local all all trust
hostssl all mtls 127.0.0.1/32 trust clientcert=verify-full
hostnossl all mtls 127.0.0.1/32 reject
hostnossl all tlsonly 127.0.0.1/32 reject
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
";

struct Fixture {
    cluster: TestCluster,
}

static FIXTURE: OnceCell<Fixture> = OnceCell::const_new();

async fn fixture() -> &'static Fixture {
    FIXTURE
        .get_or_init(|| async {
            let pki = pki();
            let cluster = tokio::task::spawn_blocking(move || {
                // Client files live in the data directory too, so they go
                // when the cluster does.
                TestCluster::start_with(
                    &[
                        ("ssl", "on"),
                        ("ssl_cert_file", "server.crt"),
                        ("ssl_key_file", "server.key"),
                        ("ssl_ca_file", "ca.crt"),
                    ],
                    &[
                        ("server.crt", pki.server_cert.as_bytes()),
                        ("server.key", pki.server_key.as_bytes()),
                        ("ca.crt", pki.ca.as_bytes()),
                        ("other-ca.crt", pki.other_ca.as_bytes()),
                        ("client.crt", pki.client_cert.as_bytes()),
                        ("client.key", pki.client_key_encrypted.as_bytes()),
                        ("pg_hba.conf", PG_HBA.as_bytes()),
                    ],
                )
            })
            .await
            .unwrap()
            .unwrap();
            let admin = Database::connect(plain(&cluster)).await.unwrap();
            admin.execute("CREATE ROLE mtls LOGIN", &[]).await.unwrap();
            admin
                .execute("CREATE ROLE tlsonly LOGIN", &[])
                .await
                .unwrap();
            admin.close().await;
            Fixture { cluster }
        })
        .await
}

fn plain(cluster: &TestCluster) -> DatabaseConfig {
    cluster.config().with_ssl_mode(SslMode::Disable)
}

impl Fixture {
    fn file(&self, name: &str) -> PathBuf {
        self.cluster.data_dir().join(name)
    }

    /// The cluster's config with `mode`, connecting by `host`, trusting
    /// `root` (a file of the data directory) if given.
    fn config(&self, mode: SslMode, host: &str, root: Option<&str>) -> DatabaseConfig {
        let mut config = self.cluster.config().with_ssl_mode(mode).with_host(host);
        config.ssl_root_cert = root.map(|name| self.file(name));
        config
    }
}

const IS_SSL: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

/// Whether the server sees TLS on a shared connection (a plain
/// `Database` call, multiplexed) and on an exclusive one (`acquire`).
async fn ssl_on_both_kinds(db: &Database) -> (bool, bool) {
    let shared: bool = db.fetch_value(IS_SSL, &[]).await.unwrap();
    let conn = db.acquire().await.unwrap();
    let exclusive: bool = conn.fetch_value(IS_SSL, &[]).await.unwrap();
    (shared, exclusive)
}

/// Connects with `config` and says what the server sees on both kinds of
/// connection.
async fn sees_tls(config: DatabaseConfig) -> (bool, bool) {
    let db = Database::connect(config).await.unwrap();
    let seen = ssl_on_both_kinds(&db).await;
    db.close().await;
    seen
}

async fn tls_error(config: DatabaseConfig) -> Box<pgdbm::TlsError> {
    match Database::connect(config).await {
        Err(Error::Tls(e)) => e,
        Err(other) => panic!("expected Error::Tls, got {other:?}"),
        Ok(_) => panic!("expected Error::Tls, but it connected"),
    }
}

#[tokio::test]
async fn require_encrypts_without_knowing_the_ca() {
    let f = fixture().await;
    let config = f.config(SslMode::Require, "127.0.0.1", None);
    assert!(config.multiplex, "the shared path must be exercised");
    assert_eq!(sees_tls(config).await, (true, true));
}

#[tokio::test]
async fn verify_full_accepts_the_right_ca_and_host_name() {
    let f = fixture().await;
    assert_eq!(
        sees_tls(f.config(SslMode::VerifyFull, "localhost", Some("ca.crt"))).await,
        (true, true)
    );
}

#[tokio::test]
async fn ssl_enabled_without_a_mode_is_verify_full() {
    let f = fixture().await;
    let mut config = f.config(SslMode::Disable, "127.0.0.1", Some("ca.crt"));
    config.ssl_mode = None;
    config.ssl_enabled = true;
    // 127.0.0.1 is not in the certificate: only verify-full notices.
    let e = tls_error(config.clone()).await;
    assert_eq!(e.failure(), TlsFailure::HostName, "{e}");
    config.host = "localhost".to_owned();
    assert_eq!(sees_tls(config).await, (true, true));
}

#[tokio::test]
async fn verify_ca_does_not_check_the_host_name() {
    let f = fixture().await;
    assert_eq!(
        sees_tls(f.config(SslMode::VerifyCa, "127.0.0.1", Some("ca.crt"))).await,
        (true, true)
    );
}

#[tokio::test]
async fn verify_full_refuses_a_host_name_the_certificate_lacks() {
    let f = fixture().await;
    let e = tls_error(f.config(SslMode::VerifyFull, "127.0.0.1", Some("ca.crt"))).await;
    assert_eq!(e.failure(), TlsFailure::HostName, "{e}");
    let text = e.to_string();
    assert!(text.contains("host name mismatch"), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
    assert!(!Error::Tls(e).is_retryable());
}

#[tokio::test]
async fn a_wrong_ca_is_refused_when_the_chain_is_checked() {
    let f = fixture().await;
    // require with a root certificate checks the chain, as in libpq.
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull, SslMode::Require] {
        let e = tls_error(f.config(mode, "localhost", Some("other-ca.crt"))).await;
        assert_eq!(e.failure(), TlsFailure::UnknownIssuer, "{mode}: {e}");
        assert!(e.message().contains("unknown issuer"), "{mode}: {e}");
    }
}

#[tokio::test]
async fn prefer_encrypts_and_disable_does_not() {
    let f = fixture().await;
    assert_eq!(
        sees_tls(f.config(SslMode::Prefer, "127.0.0.1", None)).await,
        (true, true)
    );
    assert_eq!(
        sees_tls(f.config(SslMode::Disable, "127.0.0.1", None)).await,
        (false, false)
    );
}

#[tokio::test]
async fn allow_switches_to_tls_when_the_server_refuses_plain_text() {
    let f = fixture().await;
    let refused = Database::connect(
        f.config(SslMode::Disable, "127.0.0.1", None)
            .with_user("tlsonly"),
    )
    .await;
    assert!(
        matches!(refused, Err(Error::Authentication(_))),
        "pg_hba.conf must refuse tlsonly in plain text: {refused:?}"
    );
    assert_eq!(
        sees_tls(
            f.config(SslMode::Allow, "127.0.0.1", None)
                .with_user("tlsonly"),
        )
        .await,
        (true, true)
    );
    // A role the server lets in either way stays in plain text with allow.
    assert_eq!(
        sees_tls(f.config(SslMode::Allow, "127.0.0.1", None)).await,
        (false, false)
    );
}

fn mtls(f: &Fixture, password: Option<&str>) -> DatabaseConfig {
    f.config(SslMode::VerifyFull, "localhost", Some("ca.crt"))
        .with_user("mtls")
        .with_ssl_client_cert(f.file("client.crt"), f.file("client.key"), password)
}

#[tokio::test]
async fn mutual_tls_with_an_encrypted_key() {
    let f = fixture().await;
    let db = Database::connect(mtls(f, Some(KEY_PASSWORD)))
        .await
        .unwrap();
    assert_eq!(ssl_on_both_kinds(&db).await, (true, true));
    let dn: String = db
        .fetch_value(
            "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(dn, "/CN=mtls");
    db.close().await;

    // Without the certificate the server refuses the role: the line in
    // pg_hba.conf is what the success above went through.
    let bare = f
        .config(SslMode::VerifyFull, "localhost", Some("ca.crt"))
        .with_user("mtls");
    let refused = Database::connect(bare).await;
    assert!(
        matches!(refused, Err(Error::Authentication(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_key_password_is_a_tls_error() {
    let f = fixture().await;
    for password in [Some("wrong horse"), None] {
        let e = tls_error(mtls(f, password)).await;
        assert_eq!(e.failure(), TlsFailure::KeyPassword, "{e}");
        assert_eq!(e.file(), Some(f.file("client.key").as_path()));
    }
}

#[tokio::test]
async fn a_missing_file_is_a_tls_error_naming_it() {
    let f = fixture().await;
    let e = tls_error(f.config(SslMode::VerifyFull, "localhost", Some("no-such-ca.crt"))).await;
    assert_eq!(e.failure(), TlsFailure::File);
    assert_eq!(e.file(), Some(f.file("no-such-ca.crt").as_path()));
    assert!(e.message().contains("no-such-ca.crt"), "{e}");
}

#[tokio::test]
async fn a_cancel_is_sent_over_tls() {
    let f = fixture().await;
    // One exclusive connection: if the cancel were not confirmed, the
    // connection would be discarded and the backend pid would change.
    let config = f
        .config(SslMode::VerifyFull, "localhost", Some("ca.crt"))
        .with_pool_size(1, 1)
        .with_multiplexing(false);
    let db = Database::connect(config).await.unwrap();
    let before: i32 = db
        .fetch_value("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    let started = Instant::now();
    let result = db
        .with_timeout(Some(Duration::from_millis(50)))
        .execute("SELECT pg_sleep(5)", &[])
        .await;
    assert!(matches!(result, Err(Error::Timeout(_))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let after: i32 = db
        .fetch_value("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    assert_eq!(
        before, after,
        "the connection was replaced: the cancel failed"
    );
    let ssl: bool = db.fetch_value(IS_SSL, &[]).await.unwrap();
    assert!(ssl);
    db.close().await;
}
