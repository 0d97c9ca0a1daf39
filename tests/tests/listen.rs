//! LISTEN/NOTIFY on a dedicated connection: namespaced by schema, raw
//! channels, and a listener that survives losing its connection.

use std::time::Duration;

use futures_util::StreamExt;
use pgdbm::testing::TestDatabase;
use pgdbm::{Listener, Notification};

/// The next notification, or a panic after a few seconds.
async fn next(listener: &mut Listener) -> pgdbm::Result<Notification> {
    tokio::time::timeout(Duration::from_secs(5), listener.next())
        .await
        .expect("a notification within 5 s")
        .expect("the listener never ends")
}

#[tokio::test]
async fn notifications_reach_the_listeners_of_their_schema_only() {
    let test = TestDatabase::with_config(|c| c.with_schema("tenant_a"))
        .await
        .unwrap();
    let other = test.with_schema("tenant_b").unwrap();
    let mut a = test.listen(&["jobs"]).await.unwrap();
    let mut b = other.listen(&["jobs"]).await.unwrap();
    let mut raw = test
        .listen_raw(&["tenant_a.jobs", "broadcast"])
        .await
        .unwrap();

    test.notify("jobs", "for a").await.unwrap();
    other.notify("jobs", "for b").await.unwrap();
    test.notify_raw("broadcast", "for everyone").await.unwrap();

    let n = next(&mut a).await.unwrap();
    assert_eq!((n.channel.as_str(), n.payload.as_str()), ("jobs", "for a"));
    assert!(n.process_id > 0);
    let n = next(&mut b).await.unwrap();
    assert_eq!(n.payload, "for b", "tenant b heard only its own");
    // The raw listener names the channel as the server does.
    let n = next(&mut raw).await.unwrap();
    assert_eq!(
        (n.channel.as_str(), n.payload.as_str()),
        ("tenant_a.jobs", "for a")
    );
    let n = next(&mut raw).await.unwrap();
    assert_eq!(
        (n.channel.as_str(), n.payload.as_str()),
        ("broadcast", "for everyone")
    );
    // Nothing more is pending for a: b's notification did not leak.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), a.next())
            .await
            .is_err()
    );
    // The listener's connection is not one of the pool's.
    let stats = test.pool_stats().await.unwrap();
    assert_eq!(stats.used, 0, "{stats:?}");
}

#[tokio::test]
async fn a_listener_reconnects_and_says_that_it_did() {
    let test = TestDatabase::new().await.unwrap();
    let mut events = test.listen(&["events"]).await.unwrap();
    test.notify("events", "before").await.unwrap();
    assert_eq!(next(&mut events).await.unwrap().payload, "before");

    // Kill the listener's backend (the only one LISTENing).
    let killed: i64 = test
        .fetch_value(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(killed, 1);
    let gap = next(&mut events).await.unwrap_err();
    assert!(gap.to_string().contains("may be lost"), "{gap}");

    // Listening again: a notification sent now arrives.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        test.notify("events", "after").await.unwrap();
        match tokio::time::timeout(Duration::from_millis(300), events.next()).await {
            Ok(Some(Ok(n))) => {
                assert_eq!(n.payload, "after");
                break;
            }
            Ok(Some(Err(e))) => panic!("a second gap: {e}"),
            Ok(None) => panic!("the listener ended"),
            Err(_) => assert!(std::time::Instant::now() < deadline, "never re-listened"),
        }
    }
}

#[tokio::test]
async fn bad_channel_names_are_refused() {
    let test = TestDatabase::new().await.unwrap();
    let long = "c".repeat(64);
    for name in ["", long.as_str(), "nul\0"] {
        assert!(matches!(
            test.listen(&[name]).await.unwrap_err(),
            pgdbm::Error::InvalidIdentifier(_)
        ));
        assert!(matches!(
            test.notify(name, "x").await.unwrap_err(),
            pgdbm::Error::InvalidIdentifier(_)
        ));
    }
    // Quotes are fine: the name is quoted for LISTEN and a parameter for
    // pg_notify.
    let mut odd = test.listen(&["a\"b'c"]).await.unwrap();
    test.notify("a\"b'c", "ok").await.unwrap();
    assert_eq!(next(&mut odd).await.unwrap().payload, "ok");
}
