//! The harness itself: a test that panics leaves nothing on the stack, and a new run sweeps what
//! a crashed one left without touching a live test's slice.

use async_nats::jetstream::{self, kv};
use futures::StreamExt;
use helpdesk_tests::{TestEnv, cleanup, stack_env};
use sqlx::{Connection, PgConnection};

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with deploy/test.sh"))
}

async fn database_exists(name: &str) -> bool {
    let mut admin = PgConnection::connect(&env_var(stack_env::HELPDESK_TEST_DATABASE_URL)).await.expect("connect");
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .expect("pg_database")
}

async fn jetstream() -> jetstream::Context {
    jetstream::new(async_nats::connect(env_var(stack_env::HELPDESK_TEST_NATS_URL)).await.expect("connect to NATS"))
}

/// Every stream (buckets included, as `KV_…`) whose name contains `prefix` (any case).
async fn streams_named(prefix: &str) -> Vec<String> {
    let needle = prefix.to_ascii_uppercase();
    let js = jetstream().await;
    let mut names = js.stream_names();
    let mut found = Vec::new();
    while let Some(name) = names.next().await {
        let name = name.expect("stream name");
        if name.to_ascii_uppercase().contains(&needle) {
            found.push(name);
        }
    }
    found
}

/// A key-value bucket under a NATS prefix, as the mail part's leases are.
async fn make_bucket(prefix: &str) {
    let bucket = format!("{}_PROBE", prefix.to_ascii_uppercase());
    jetstream().await.create_key_value(kv::Config { bucket, ..Default::default() }).await.expect("bucket");
}

#[tokio::test]
async fn a_test_that_panics_leaves_no_database_streams_buckets_or_keys_behind() {
    let (names_tx, names_rx) = tokio::sync::oneshot::channel();
    let test = tokio::spawn(async move {
        let env = TestEnv::new().await;
        let server = env.start().await;
        make_bucket(&env.config.shared.nats.prefix).await;
        let names = (env.database().to_string(), env.config.shared.nats.prefix.clone(), env.config.shared.auth.key_dir.clone());
        names_tx.send(names).expect("the test waits for the names");
        let _still_running = server;
        panic!("deliberately, with the help desk still running");
    });
    let (database, prefix, key_dir) = names_rx.await.expect("the panicking test named its slice");
    assert!(test.await.expect_err("the test panicked").is_panic());

    assert!(!database_exists(&database).await, "database {database} is left behind");
    assert_eq!(streams_named(&prefix).await, Vec::<String>::new(), "streams or buckets are left behind");
    assert!(!key_dir.exists(), "the key directory {} is left behind", key_dir.display());
}

#[tokio::test]
async fn a_new_run_sweeps_the_slices_of_crashed_runs_and_keeps_live_ones() {
    let admin_url = env_var(stack_env::HELPDESK_TEST_DATABASE_URL);
    let nats_url = env_var(stack_env::HELPDESK_TEST_NATS_URL);
    let temp = tempfile::tempdir().expect("temporary directory");
    // A slice of a process that no longer exists (no pid is this high) and one of this process.
    let crashed = cleanup::Owner::crashed_for_tests();
    let live = cleanup::Owner::new();
    let mut admin = PgConnection::connect(&admin_url).await.expect("connect");
    for owner in [&crashed, &live] {
        let sql = format!("CREATE DATABASE \"{}\"", owner.database());
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.expect("create database");
        make_bucket(&owner.nats_prefix()).await;
        std::fs::create_dir(temp.path().join(format!("{}abc", owner.key_dir_prefix()))).expect("key directory");
    }

    cleanup::sweep_leftovers(&admin_url, &nats_url, temp.path()).await.expect("sweep");

    assert!(!database_exists(&crashed.database()).await, "the crashed run's database is swept");
    assert_eq!(streams_named(&crashed.nats_prefix()).await, Vec::<String>::new(), "its bucket is swept");
    assert!(!temp.path().join(format!("{}abc", crashed.key_dir_prefix())).exists(), "its key directory is swept");
    assert!(database_exists(&live.database()).await, "a live test's database stays");
    assert_eq!(streams_named(&live.nats_prefix()).await.len(), 1, "a live test's bucket stays");
    assert!(temp.path().join(format!("{}abc", live.key_dir_prefix())).exists(), "a live test's key directory stays");

    cleanup::Slice { admin_url, nats_url, owner: live }.remove().await;
}
