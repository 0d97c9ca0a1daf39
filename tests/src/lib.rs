//! Integration tests live in this package's tests/ directory; this is what
//! several of them share.

/// Runs `work` with a manager on the test server's maintenance database,
/// from a synchronous test, on a runtime of its own.
pub fn on_server<T>(work: impl AsyncFnOnce(&pgdbm::Database) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let config = pgdbm::testing::server_config().expect("a test server");
        let db = pgdbm::Database::connect(config)
            .await
            .expect("a connection");
        let out = work(&db).await;
        db.close().await;
        out
    })
}
