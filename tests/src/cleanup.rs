//! What a test leaves on the shared stack, and how it goes away: every database, NATS prefix and
//! key directory a [`crate::TestEnv`] makes is named after its [`Owner`] (the test process's id
//! and start time), so that
//! - the environment's drop guard removes its own slice even when the test panics, and
//! - a new run sweeps the slices of runs that crashed (their process is gone, or they are older
//!   than an hour) without touching the slices of tests running at the same moment — nextest runs
//!   many test processes at once on the same Postgres and NATS.
//!
//! Names made before owners were recorded (`hd_test_<hex>`) are never swept: nothing says whether
//! their test still runs.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures::StreamExt;
use sqlx::{Connection, PgConnection};

/// How a database, a temporary directory and (upper-cased) a NATS stream of a test start.
const DATABASE_PREFIX: &str = "hd_test_";
const NATS_PREFIX: &str = "hdt_";
/// A slice whose owner still seems alive is swept anyway after this long (process ids are reused).
const ABANDONED_AFTER: Duration = Duration::from_secs(3600);
/// How long removing a slice may take before the guard gives up (a dead stack must not hang tests).
const REMOVAL_LIMIT: Duration = Duration::from_secs(20);

/// The test process that made a slice, and when: the part of every name that the sweep reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pid: u32,
    started: u64,
    unique: String,
}

impl Owner {
    /// A fresh owner tag for a slice made by this process now.
    pub fn new() -> Self {
        let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let unique = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        Self { pid: std::process::id(), started, unique }
    }

    /// An owner whose process cannot exist (no pid is this high): a crashed run, for testing
    /// the sweep.
    pub fn crashed_for_tests() -> Self {
        Self { pid: u32::MAX, ..Self::new() }
    }

    /// `<pid>_<unix seconds>_<random hex>`: valid in a database name, a NATS subject and a path.
    fn tag(&self) -> String {
        format!("{}_{}_{}", self.pid, self.started, self.unique)
    }

    pub fn database(&self) -> String {
        format!("{DATABASE_PREFIX}{}", self.tag())
    }

    pub fn nats_prefix(&self) -> String {
        format!("{NATS_PREFIX}{}", self.tag())
    }

    pub fn key_dir_prefix(&self) -> String {
        format!("{DATABASE_PREFIX}{}.", self.tag())
    }

    /// The owner named at the start of `rest` (after the kind's prefix), if it has one.
    fn parse(rest: &str) -> Option<Self> {
        let mut fields = rest.splitn(4, ['_', '.']);
        let pid = fields.next()?.parse().ok()?;
        let started = fields.next()?.parse().ok()?;
        let unique = fields.next()?;
        let hex = unique.len() == 10 && unique.chars().all(|c| c.is_ascii_hexdigit());
        hex.then(|| Self { pid, started, unique: unique.to_ascii_lowercase() })
    }

    /// The owner of a database, temporary directory or NATS stream name, if it is a test's.
    fn of(name: &str) -> Option<Self> {
        if let Some(rest) = strip_prefix_ignore_case(name, DATABASE_PREFIX) {
            return Self::parse(rest);
        }
        let stream = strip_prefix_ignore_case(name, "KV_").unwrap_or(name);
        Self::parse(strip_prefix_ignore_case(stream, NATS_PREFIX)?)
    }

    /// Whether the slice's test can no longer be running: its process is gone, or it is too old.
    fn is_gone(&self) -> bool {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let abandoned = now.saturating_sub(self.started) > ABANDONED_AFTER.as_secs();
        // Without /proc nothing can be told about other processes: then only age counts.
        let process_gone = Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{}", self.pid)).exists();
        abandoned || process_gone
    }
}

impl Default for Owner {
    fn default() -> Self {
        Self::new()
    }
}

fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &name[prefix.len()..])
}

/// Where one test's slice lives, enough to remove it from any thread.
#[derive(Clone, Debug)]
pub struct Slice {
    pub admin_url: String,
    pub nats_url: String,
    pub owner: Owner,
}

impl Slice {
    /// Drops the database (closing whatever still uses it) and deletes every NATS stream and
    /// key-value bucket under the prefix. Failures are reported, not raised: this runs in `Drop`.
    pub async fn remove(&self) {
        let database = self.owner.database();
        if let Err(error) = drop_database(&self.admin_url, &database).await {
            eprintln!("test cleanup: could not drop database {database}: {error:#}");
        }
        let owner = self.owner.clone();
        if let Err(error) = delete_streams(&self.nats_url, |name| Owner::of(name).as_ref() == Some(&owner)).await {
            eprintln!("test cleanup: could not delete the streams of {}: {error:#}", owner.nats_prefix());
        }
    }

    /// [`Slice::remove`] on a fresh thread with its own runtime, bounded in time: usable from
    /// `Drop`, also while a panic unwinds and whatever runtime the test used is busy or gone.
    pub fn remove_blocking(self) {
        let removal = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            match runtime {
                Ok(runtime) => runtime.block_on(async {
                    if tokio::time::timeout(REMOVAL_LIMIT, self.remove()).await.is_err() {
                        eprintln!("test cleanup: gave up on {} after {REMOVAL_LIMIT:?}", self.owner.database());
                    }
                }),
                Err(error) => eprintln!("test cleanup: no runtime to remove {}: {error}", self.owner.database()),
            }
        });
        if removal.join().is_err() {
            eprintln!("test cleanup: the removal thread panicked");
        }
    }
}

async fn drop_database(admin_url: &str, database: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(admin_url).await?;
    let sql = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await?;
    Ok(())
}

/// Deletes every stream (key-value buckets are streams named `KV_<bucket>`) whose name `doomed`
/// picks.
async fn delete_streams(nats_url: &str, doomed: impl Fn(&str) -> bool) -> anyhow::Result<()> {
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await?);
    let mut names = js.stream_names();
    let mut picked = Vec::new();
    while let Some(name) = names.next().await {
        let name = name?;
        if doomed(&name) {
            picked.push(name);
        }
    }
    for name in picked {
        js.delete_stream(&name).await?;
    }
    Ok(())
}

static SWEPT: AtomicBool = AtomicBool::new(false);

/// Once per test process: [`sweep_leftovers`], reporting rather than failing when it cannot.
pub async fn sweep_once(admin_url: &str, nats_url: &str) {
    if !SWEPT.swap(true, Ordering::SeqCst)
        && let Err(error) = sweep_leftovers(admin_url, nats_url, &std::env::temp_dir()).await
    {
        eprintln!("test cleanup: sweeping what crashed runs left failed: {error:#}");
    }
}

/// Removes the databases, NATS streams and buckets, and key directories (in `temp_dir`) of tests
/// whose owner is gone.
pub async fn sweep_leftovers(admin_url: &str, nats_url: &str, temp_dir: &Path) -> anyhow::Result<()> {
    let abandoned = |name: &str| Owner::of(name).is_some_and(|owner| owner.is_gone());
    let mut admin = PgConnection::connect(admin_url).await?;
    let databases: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'hd\\_test\\_%'")
        .fetch_all(&mut admin)
        .await?;
    for database in databases.iter().filter(|d| abandoned(d)) {
        drop_database(admin_url, database).await?;
    }
    delete_streams(nats_url, abandoned).await?;
    let key_dirs: Vec<PathBuf> = std::fs::read_dir(temp_dir)?
        .flatten()
        .filter(|entry| entry.file_name().to_str().is_some_and(abandoned))
        .map(|entry| entry.path())
        .collect();
    for dir in key_dirs {
        // Another sweeping process may have removed it first.
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_a_slice_names_its_owner() {
        let owner = Owner::new();
        let stream_prefix = owner.nats_prefix().to_ascii_uppercase();
        assert_eq!(Owner::of(&owner.database()), Some(owner.clone()));
        assert_eq!(Owner::of(&format!("{stream_prefix}_EVENTS")), Some(owner.clone()));
        assert_eq!(Owner::of(&format!("KV_{stream_prefix}_MAIL_LEASES")), Some(owner.clone()));
        assert_eq!(Owner::of(&format!("{}abc123", owner.key_dir_prefix())), Some(owner));
    }

    #[test]
    fn names_without_an_owner_are_never_swept() {
        assert_eq!(Owner::of("hd_test_0123456789abcdef"), None);
        assert_eq!(Owner::of("T0123456789AB_EVENTS"), None);
        assert_eq!(Owner::of("KV_T0123456789AB_MAIL_LEASES"), None);
        assert_eq!(Owner::of("postgres"), None);
    }

    #[test]
    fn a_live_recent_owner_is_not_gone_and_a_dead_or_old_one_is() {
        assert!(!Owner::new().is_gone());
        assert!(Owner::crashed_for_tests().is_gone());
        let old = Owner { started: 1, ..Owner::new() };
        assert!(old.is_gone());
    }
}
