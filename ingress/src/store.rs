//! The metadata store: Kafka clusters, deployments and subscriptions in
//! `<base-dir>/state.json`.
//!
//! Writes are atomic (temp file, fsync, rename, fsync of the directory), so a crash leaves the
//! old or the new state, never a torn file. A file that cannot be read or parsed is an error,
//! never an empty start: silently forgetting every subscription is worse than not starting.
//! `<base-dir>/LOCK` holds an exclusive advisory lock for the life of the [`StateStore`], so two
//! processes never share a base dir. The I/O is blocking; async callers use `spawn_blocking`.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::cluster_spec::KafkaClusterSpec;
use crate::deployments::Deployment;
use crate::subscription_spec::SubscriptionSpec;
use crate::sync::lock;

/// The state file format this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// The state file, relative to the base dir.
pub const STATE_FILE: &str = "state.json";

/// The temp file a save writes before renaming it over [`STATE_FILE`].
const TEMP_FILE: &str = "state.json.tmp";

/// The lock file, relative to the base dir.
pub const LOCK_FILE: &str = "LOCK";

/// Everything persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedState {
    /// The format version ([`STATE_VERSION`]).
    pub version: u32,
    /// Kafka clusters registered through the admin API, oldest first (a file without the
    /// field, from before they existed, has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kafka_clusters: Vec<KafkaClusterSpec>,
    /// Registered deployments, oldest first.
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    /// Subscriptions, in creation order.
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionSpec>,
}

impl Default for PersistedState {
    fn default() -> Self {
        PersistedState {
            version: STATE_VERSION,
            kafka_clusters: Vec::new(),
            deployments: Vec::new(),
            subscriptions: Vec::new(),
        }
    }
}

/// Why the state could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The base dir cannot be created.
    #[error("cannot create base dir {}: {source}", path.display())]
    CreateDir {
        /// The base dir.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process holds the lock.
    #[error(
        "base dir {} is in use by another kafka-ingress process (lock file {})",
        base_dir.display(),
        lock_file.display()
    )]
    Locked {
        /// The base dir.
        base_dir: PathBuf,
        /// The lock file.
        lock_file: PathBuf,
    },
    /// The lock file cannot be opened or locked.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The state file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The state file is not valid JSON or not the state's shape.
    #[error(
        "{}:{line}:{column}: corrupt state file: {reason}; fix or move it away (kafka-ingress \
         does not start with empty state over an unreadable one)",
        path.display()
    )]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// 1-based line (0 when the error has no position).
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's reason, without the position.
        reason: String,
    },
    /// The state file has a version this build cannot read (typically written by a newer
    /// kafka-ingress).
    #[error("{}: {}", path.display(), version_problem(*found, *supported))]
    UnsupportedVersion {
        /// The state file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// [`STATE_VERSION`].
        supported: u32,
    },
    /// The state cannot be serialized (not expected: all fields are plain data).
    #[error("cannot serialize the state: {0}")]
    Serialize(#[source] serde_json::Error),
    /// Writing, syncing or renaming failed; the previous state file is untouched.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file being written, renamed or synced.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The persisted state of one base dir, locked for this process.
#[derive(Debug)]
pub struct StateStore {
    base_dir: PathBuf,
    state_file: PathBuf,
    temp_file: PathBuf,
    /// Holds the advisory lock until dropped.
    _lock: File,
    /// Serializes saves: two concurrent ones would write the same temp file.
    save_guard: Mutex<()>,
}

impl StateStore {
    /// Opens `base_dir` (created if missing), locks it, and loads its state: empty when there
    /// is no state file yet; an error when it cannot be read, is corrupt, or is of a newer
    /// version. A temp file left by a crash mid-save is removed.
    pub fn open(base_dir: &Path) -> Result<(StateStore, PersistedState), StoreError> {
        fs::create_dir_all(base_dir).map_err(|source| StoreError::CreateDir {
            path: base_dir.to_owned(),
            source,
        })?;
        let lock_path = base_dir.join(LOCK_FILE);
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::Lock {
                path: lock_path.clone(),
                source,
            })?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    base_dir: base_dir.to_owned(),
                    lock_file: lock_path,
                })
            }
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::Lock {
                    path: lock_path,
                    source,
                })
            }
        }
        let store = StateStore {
            base_dir: base_dir.to_owned(),
            state_file: base_dir.join(STATE_FILE),
            temp_file: base_dir.join(TEMP_FILE),
            _lock: lock_file,
            save_guard: Mutex::new(()),
        };
        // A leftover temp file is a save that never reached its rename: the state file still
        // holds the last complete state, so the temp file is garbage.
        match fs::remove_file(&store.temp_file) {
            Ok(()) => tracing::warn!(
                path = %store.temp_file.display(),
                "removed an incomplete state file left by an interrupted save"
            ),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                path = %store.temp_file.display(),
                error = %e,
                "cannot remove a leftover temp state file; the next save overwrites it"
            ),
        }
        let state = store.load()?;
        Ok((store, state))
    }

    /// The base dir.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// The state file path.
    pub fn state_file(&self) -> &Path {
        &self.state_file
    }

    fn load(&self) -> Result<PersistedState, StoreError> {
        let path = &self.state_file;
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(PersistedState::default()),
            Err(source) => {
                return Err(StoreError::Read {
                    path: path.clone(),
                    source,
                })
            }
        };
        // The version first, so a newer file whose shape changed reports the version, not a
        // confusing shape error.
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let probe: VersionOnly = serde_json::from_slice(&bytes).map_err(|e| corrupt(path, &e))?;
        if probe.version != STATE_VERSION {
            return Err(StoreError::UnsupportedVersion {
                path: path.clone(),
                found: probe.version,
                supported: STATE_VERSION,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| corrupt(path, &e))
    }

    /// Replaces the state file with `state` atomically: write `state.json.tmp`, fsync it,
    /// rename it over `state.json`, fsync the directory. On error the previous state file is
    /// intact. The file is readable by the owner only, since options hold credentials.
    pub fn save(&self, state: &PersistedState) -> Result<(), StoreError> {
        let mut bytes = serde_json::to_vec_pretty(state).map_err(StoreError::Serialize)?;
        bytes.push(b'\n');
        let _guard = lock(&self.save_guard);
        self.replace_file(&self.temp_file, &self.state_file, &bytes)
    }

    /// Replaces `target` with `bytes` through `temp`: write, fsync, rename, fsync the base
    /// dir; owner-only permissions. On error `target` is untouched.
    fn replace_file(&self, temp: &Path, target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let write_err = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Write { path, source }
        };
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(temp).map_err(write_err(temp))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(write_err(temp))?;
        drop(file);
        fs::rename(temp, target).map_err(write_err(target))?;
        sync_dir(&self.base_dir).map_err(write_err(&self.base_dir))?;
        Ok(())
    }
}

/// The name of the file under the base dir that holds this process's instance id.
pub const INSTANCE_ID_FILE: &str = "instance-id";

impl StateStore {
    /// This base dir's instance id: the one in `<base-dir>/instance-id`, or a new random one
    /// written there (atomically) on first use. It makes the process's static group
    /// membership survive restarts; a copy of the base dir shares it, which must not run.
    pub fn instance_id(&self) -> Result<String, StoreError> {
        let path = self.base_dir.join(INSTANCE_ID_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let id = text.trim();
                if valid_instance_id(id) {
                    return Ok(id.to_owned());
                }
                return Err(StoreError::Corrupt {
                    path,
                    line: 1,
                    column: 1,
                    reason: format!(
                        "{id:?} is not an instance id (1-200 characters of A-Z a-z 0-9 . _ -)"
                    ),
                });
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::Read { path, source }),
        }
        let id = crate::ids::random_id("ki-");
        let temp = self.base_dir.join(format!("{INSTANCE_ID_FILE}.tmp"));
        self.replace_file(&temp, &path, format!("{id}\n").as_bytes())?;
        Ok(id)
    }
}

/// Whether `id` can be an instance id: 1-200 characters of `A-Z a-z 0-9 . _ -` (it becomes
/// part of a `group.instance.id`).
pub fn valid_instance_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Makes a rename in `dir` durable (the new directory entry reaches the disk).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing here; the rename is as durable as the OS makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

fn version_problem(found: u32, supported: u32) -> String {
    if found > supported {
        format!(
            "state format version {found} is newer than this kafka-ingress supports \
             ({supported}); upgrade kafka-ingress"
        )
    } else {
        format!("state format version {found} is unknown (this kafka-ingress reads {supported})")
    }
}

fn corrupt(path: &Path, e: &serde_json::Error) -> StoreError {
    // serde_json appends " at line L column C" to its message; the position is reported
    // separately, path:line:column, like the config errors.
    let message = e.to_string();
    let reason = match message.rfind(" at line ") {
        Some(i) if e.line() > 0 => message[..i].to_owned(),
        _ => message,
    };
    StoreError::Corrupt {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::deployments::{DeploymentRegistry, EndpointManifest};
    use crate::http_client::HttpVersion;
    use crate::subscription_spec::SubscriptionId;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "kafka-ingress-store-test-{}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst),
                rand::random::<u32>()
            ));
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn sample() -> PersistedState {
        let manifest: EndpointManifest = serde_json::from_value(serde_json::json!({
            "services": [{"name": "Counter", "ty": "VIRTUAL_OBJECT", "handlers": [{"name": "add"}]}]
        }))
        .unwrap();
        let mut registry = DeploymentRegistry::default();
        registry
            .register(
                "http://h:9080",
                BTreeMap::from([("authorization".into(), "Bearer t".into())]),
                manifest,
                HttpVersion::Http1,
                false,
            )
            .unwrap();
        PersistedState {
            version: STATE_VERSION,
            kafka_clusters: vec![
                crate::cluster_spec::KafkaClusterSpec::new(
                    "c",
                    BTreeMap::from([("bootstrap.servers".into(), "h:9092".into())]),
                )
                .unwrap()
                .0,
            ],
            deployments: registry.list().to_vec(),
            subscriptions: vec![SubscriptionSpec {
                id: SubscriptionId::generate(),
                source: "kafka://c/orders".parse().unwrap(),
                sink: "service://Counter/add".parse().unwrap(),
                options: BTreeMap::from([("sasl.password".into(), "secret".into())]),
                paused: false,
            }],
        }
    }

    #[test]
    fn missing_file_is_empty_state_and_base_dir_is_created() {
        let dir = TempDir::new();
        let base = dir.0.join("nested/base");
        let (store, state) = StateStore::open(&base).unwrap();
        assert_eq!(state, PersistedState::default());
        assert_eq!(state.version, 1);
        assert!(base.is_dir());
        assert_eq!(store.base_dir(), base);
        assert_eq!(store.state_file(), base.join("state.json"));
    }

    #[test]
    fn save_then_open_round_trips() {
        let dir = TempDir::new();
        let state = sample();
        {
            let (store, _) = StateStore::open(&dir.0).unwrap();
            store.save(&PersistedState::default()).unwrap();
            store.save(&state).unwrap();
            assert!(!dir.0.join(TEMP_FILE).exists());
        }
        let (_store, loaded) = StateStore::open(&dir.0).unwrap();
        assert_eq!(loaded, state);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.0.join(STATE_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn state_from_before_http_versions_loads_as_http1() {
        let dir = TempDir::new();
        fs::create_dir_all(&dir.0).unwrap();
        let old = serde_json::json!({
            "version": 1,
            "deployments": [{
                "id": "dp_1", "uri": "http://h:9080", "created_at": "2026-01-01T00:00:00Z",
                "services": [{"name": "S", "ty": "SERVICE", "handlers": [{"name": "h"}]}]
            }],
            "subscriptions": []
        });
        fs::write(dir.0.join(STATE_FILE), old.to_string()).unwrap();
        let (_store, loaded) = StateStore::open(&dir.0).unwrap();
        assert_eq!(loaded.deployments[0].http_version, HttpVersion::Http1);
    }

    #[test]
    fn corrupt_file_is_an_error_with_path_line_and_column() {
        let dir = TempDir::new();
        fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join(STATE_FILE);
        fs::write(&path, "{\n  \"version\": 1,\n  \"deployments\": [\n}").unwrap();
        let e = StateStore::open(&dir.0).unwrap_err();
        match &e {
            StoreError::Corrupt { line, column, .. } => assert_eq!((*line, *column), (4, 1)),
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("{}:4:1: corrupt state file: ", path.display())),
            "{msg}"
        );
        // The file is left alone for the operator.
        assert!(path.exists());
    }

    #[test]
    fn empty_or_wrong_shape_file_is_an_error() {
        let dir = TempDir::new();
        fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join(STATE_FILE);
        for (content, needle) in [
            ("", "EOF"),
            ("{}", "missing field `version`"),
            ("{\"version\": 1, \"subscriptions\": 5}", "invalid type"),
            (
                "{\"version\": 1, \"subscriptions\": [{\"id\": \"sub_x\", \"source\": \"bad\", \
                 \"sink\": \"service://S/h\"}]}",
                "invalid source \\\"bad\\\"",
            ),
        ] {
            fs::write(&path, content).unwrap();
            let e = StateStore::open(&dir.0).unwrap_err();
            let msg = format!("{e:?} {e}");
            assert!(matches!(e, StoreError::Corrupt { .. }), "{content}: {msg}");
            assert!(msg.contains(needle), "{content}: {msg}");
        }
    }

    #[test]
    fn newer_version_is_rejected() {
        let dir = TempDir::new();
        fs::create_dir_all(&dir.0).unwrap();
        fs::write(
            dir.0.join(STATE_FILE),
            "{\"version\": 2, \"subscriptions\": \"a new shape\"}",
        )
        .unwrap();
        let e = StateStore::open(&dir.0).unwrap_err();
        assert!(matches!(
            e,
            StoreError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ));
        assert!(e.to_string().contains("upgrade kafka-ingress"), "{e}");

        fs::write(dir.0.join(STATE_FILE), "{\"version\": 0}").unwrap();
        let e = StateStore::open(&dir.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: state format version 0 is unknown (this kafka-ingress reads 1)",
                dir.0.join(STATE_FILE).display()
            )
        );
    }

    #[test]
    fn leftover_temp_file_is_removed_and_state_kept() {
        let dir = TempDir::new();
        let state = sample();
        {
            let (store, _) = StateStore::open(&dir.0).unwrap();
            store.save(&state).unwrap();
        }
        // A crash mid-save: a torn temp file next to the intact state file.
        fs::write(dir.0.join(TEMP_FILE), "{\"version\": 1, \"deploym").unwrap();
        let (store, loaded) = StateStore::open(&dir.0).unwrap();
        assert_eq!(loaded, state);
        assert!(!dir.0.join(TEMP_FILE).exists());
        store.save(&PersistedState::default()).unwrap();
    }

    #[test]
    fn temp_file_alone_means_no_state_yet() {
        let dir = TempDir::new();
        fs::create_dir_all(&dir.0).unwrap();
        fs::write(dir.0.join(TEMP_FILE), "garbage").unwrap();
        let (_store, loaded) = StateStore::open(&dir.0).unwrap();
        assert_eq!(loaded, PersistedState::default());
    }

    #[test]
    fn a_second_open_of_the_same_base_dir_is_refused_until_the_first_is_dropped() {
        let dir = TempDir::new();
        let (first, _) = StateStore::open(&dir.0).unwrap();
        let e = StateStore::open(&dir.0).unwrap_err();
        assert!(matches!(e, StoreError::Locked { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "base dir {} is in use by another kafka-ingress process (lock file {})",
                dir.0.display(),
                dir.0.join(LOCK_FILE).display()
            )
        );
        drop(first);
        assert!(StateStore::open(&dir.0).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_base_dir_is_an_error_not_an_empty_start() {
        let dir = TempDir::new();
        fs::create_dir_all(&dir.0).unwrap();
        // A directory where the state file should be: reading it fails (EISDIR).
        fs::create_dir(dir.0.join(STATE_FILE)).unwrap();
        let e = StateStore::open(&dir.0).unwrap_err();
        assert!(matches!(e, StoreError::Read { .. }), "{e:?}");
        assert!(e.to_string().contains("state.json"), "{e}");
    }

    #[test]
    fn base_dir_that_is_a_file_is_an_error() {
        let dir = TempDir::new();
        fs::create_dir_all(&dir.0).unwrap();
        let file = dir.0.join("file");
        fs::write(&file, "x").unwrap();
        let e = StateStore::open(&file).unwrap_err();
        assert!(matches!(e, StoreError::CreateDir { .. }), "{e:?}");
    }
}
