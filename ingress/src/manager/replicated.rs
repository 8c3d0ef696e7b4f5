//! `store = "kafka"`: the desired state is the metadata log replayed in offset order.
//!
//! At start-up the log is read to its end before the ingress serves (a record that cannot be
//! read stops start-up, naming the offset); then a tailer applies every new record, written by
//! this process or another, and reconciles the runtimes. A write appends its record, waits
//! until this process has applied it (read your writes) and answers with the verdict of
//! [`Inner::apply`], which is the same on every process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{watch, Mutex};

use crate::config::{KafkaStoreConfig, ServerConfig};
use crate::http_client::HandlerTls;
use crate::metadata::{Command, EntityKey, MetadataLog, MetadataRecord, PutOp};
use crate::options::resolve;
use crate::store::PersistedState;
use crate::sync::lock;

use super::apply::Rejection;
use super::{reconcile, IngressError, Inner};

/// How long a write waits for this process to apply its own record.
const APPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one read of the tailer waits for new records.
const TAIL_WAIT: Duration = Duration::from_millis(500);
/// Pause after a failed read before the next attempt.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// The verdict on one record written by this process: `None` until applied.
type Verdict = Option<Result<(), Rejection>>;

/// The shared metadata log and what this process has applied of it.
#[derive(Debug)]
pub(super) struct Replicated {
    log: MetadataLog,
    /// The next offset to apply (every record below it is applied).
    applied: watch::Sender<i64>,
    /// Verdicts for this process's pending writes, by request id.
    verdicts: StdMutex<HashMap<String, Verdict>>,
    /// Why the tailer stopped (an unreadable record): writes fail with it.
    halted: StdMutex<Option<String>>,
}

impl Replicated {
    /// Opens the metadata topic, imports `local` (the base dir's `state.json`) into it,
    /// and replays the log into `inner` up to its end.
    pub(super) async fn open(
        config: &ServerConfig,
        store: &KafkaStoreConfig,
        local: PersistedState,
        inner: &mut Inner,
    ) -> Result<Arc<Replicated>, IngressError> {
        let cluster = config.ingress.cluster(&store.cluster).ok_or_else(|| {
            IngressError::Metadata(format!(
                "[ingress.metadata-store] cluster {:?} is not configured",
                store.cluster
            ))
        })?;
        let resolved = resolve(cluster, &Default::default(), "kafka-ingress-metadata")?;
        let log = MetadataLog::open(&resolved.settings, store)
            .await
            .map_err(|e| IngressError::Metadata(e.to_string()))?;
        let replicated = Arc::new(Replicated {
            log,
            applied: watch::Sender::new(0),
            verdicts: StdMutex::new(HashMap::new()),
            halted: StdMutex::new(None),
        });
        let imports = replicated.import(local).await?;
        let end = replicated
            .log
            .end_offset()
            .await
            .map_err(|e| IngressError::Metadata(e.to_string()))?;
        let mut next = replicated
            .log
            .start_offset()
            .await
            .map_err(|e| IngressError::Metadata(e.to_string()))?;
        while next < end {
            let (records, high_watermark) = replicated
                .log
                .read(next, TAIL_WAIT)
                .await
                .map_err(|e| IngressError::Metadata(e.to_string()))?;
            if records.is_empty() {
                // Nothing is left below the high watermark: compaction removed the records
                // there (e.g. old tombstones), which leaves nothing to apply.
                next = next.max(high_watermark.min(end));
                continue;
            }
            for raw in records {
                let record = MetadataRecord::decode(raw.key.as_deref(), raw.value.as_deref())
                    .map_err(|e| replicated.unreadable(raw.offset, &e))?;
                replicated.apply(inner, config, raw.offset, record);
                next = raw.offset + 1;
            }
        }
        replicated.applied.send_replace(next);
        for (request_id, what) in imports {
            match replicated.take_verdict(&request_id) {
                Some(Err(rejection)) => tracing::warn!(entity = %what,
                    reason = %IngressError::from(rejection),
                    "not imported from state.json: the metadata topic decides otherwise"),
                _ => tracing::info!(entity = %what, "imported from state.json"),
            }
        }
        tracing::info!(topic = %replicated.log.topic(), records_up_to = next,
            subscriptions = inner.subscriptions.len(),
            deployments = inner.registry.list().len(),
            kafka_clusters = inner.clusters.len(), "metadata log replayed");
        Ok(replicated)
    }

    /// Appends every entity of a local `state.json` as a create (Kafka clusters and
    /// deployments first, since subscriptions need them). Ids are kept, so importing twice is
    /// a no-op.
    async fn import(
        &self,
        local: PersistedState,
    ) -> Result<Vec<(String, EntityKey)>, IngressError> {
        let mut written = Vec::new();
        let commands = local
            .kafka_clusters
            .into_iter()
            .map(|cluster| Command::PutKafkaCluster {
                op: PutOp::Create,
                cluster,
            })
            .chain(
                local
                    .deployments
                    .into_iter()
                    .map(|deployment| Command::PutDeployment {
                        deployment,
                        force: false,
                    }),
            )
            .chain(
                local
                    .subscriptions
                    .into_iter()
                    .map(|spec| Command::PutSubscription {
                        op: PutOp::Create,
                        spec,
                        created_offset: None,
                    }),
            );
        for command in commands {
            let request_id = crate::ids::random_id("req_");
            let key = command.key();
            lock(&self.verdicts).insert(request_id.clone(), None);
            self.log
                .append(&MetadataRecord {
                    request_id: Some(request_id.clone()),
                    command,
                })
                .await
                .map_err(|e| IngressError::Metadata(e.to_string()))?;
            written.push((request_id, key));
        }
        Ok(written)
    }

    fn unreadable(&self, offset: i64, error: &crate::metadata::RecordError) -> IngressError {
        IngressError::Metadata(format!(
            "metadata topic {} offset {offset}: {error}; kafka-ingress does not skip metadata \
             (that would silently drop subscriptions): upgrade this process if a newer one \
             wrote it, or remove the record (e.g. by producing a tombstone for its key)",
            self.log.topic()
        ))
    }

    /// Applies one record and hands the verdict to the waiting writer, if it is ours.
    fn apply(&self, inner: &mut Inner, config: &ServerConfig, offset: i64, record: MetadataRecord) {
        let key = record.command.key();
        let verdict = inner.apply(config, offset, record.command);
        if let Err(rejection) = &verdict {
            tracing::debug!(offset, entity = %key, reason = %IngressError::from(rejection.clone()),
                "metadata record refused");
        }
        if let Some(request_id) = record.request_id {
            let mut verdicts = lock(&self.verdicts);
            if let Some(slot @ None) = verdicts.get_mut(&request_id) {
                *slot = Some(verdict);
            }
        }
    }

    /// The next offset this process will apply.
    pub(super) fn applied_offset(&self) -> i64 {
        *self.applied.borrow()
    }

    fn take_verdict(&self, request_id: &str) -> Verdict {
        lock(&self.verdicts).remove(request_id).flatten()
    }

    /// Tombstones refused keys whose latest record is still the refused one (see
    /// [`super::apply`]): harmless for every process, and it keeps compaction from ever
    /// turning a refused record into an accepted one.
    pub(super) async fn sweep_refused(&self, inner: &Arc<Mutex<Inner>>) {
        let refused: Vec<EntityKey> = inner.lock().await.refused.iter().cloned().collect();
        for key in refused {
            if let Err(e) = self.append_tombstone(&key).await {
                tracing::warn!(entity = %key, error = %e, "cannot tombstone a refused metadata record");
            }
        }
    }

    async fn append_tombstone(&self, key: &EntityKey) -> Result<i64, IngressError> {
        self.log
            .append(&MetadataRecord {
                request_id: None,
                command: Command::Delete(key.clone()),
            })
            .await
            .map_err(|e| IngressError::Metadata(e.to_string()))
    }

    /// Writes `command`, waits until this process has applied it, and returns the verdict.
    pub(super) async fn submit(&self, command: Command) -> Result<(), IngressError> {
        if let Some(reason) = lock(&self.halted).clone() {
            return Err(IngressError::Metadata(reason));
        }
        let key = command.key();
        let is_delete = matches!(command, Command::Delete(_));
        let request_id = crate::ids::random_id("req_");
        lock(&self.verdicts).insert(request_id.clone(), None);
        let record = MetadataRecord {
            request_id: (!is_delete).then(|| request_id.clone()),
            command,
        };
        let written = self.log.append(&record).await;
        let offset = match written {
            Ok(offset) => offset,
            Err(e) => {
                lock(&self.verdicts).remove(&request_id);
                return Err(IngressError::Metadata(format!(
                    "{e}; if the broker received the change it still takes effect, so list \
                     before retrying a create"
                )));
            }
        };
        let mut applied = self.applied.subscribe();
        // Only whether it was applied: the watch's borrow must not live across an await.
        let applied_in_time = matches!(
            tokio::time::timeout(APPLY_TIMEOUT, applied.wait_for(|next| *next > offset)).await,
            Ok(Ok(_))
        );
        let verdict = self.take_verdict(&request_id);
        if !applied_in_time {
            return Err(IngressError::Metadata(format!(
                "the change was written to metadata topic {} at offset {offset} but this \
                 process has not applied it within {}s; it takes effect once applied",
                self.log.topic(),
                APPLY_TIMEOUT.as_secs()
            )));
        }
        match verdict {
            Some(Err(rejection)) => {
                if let Err(e) = self.append_tombstone(&key).await {
                    tracing::warn!(entity = %key, error = %e,
                        "cannot tombstone a refused metadata record; the next start-up does");
                }
                Err(rejection.into())
            }
            _ => Ok(()),
        }
    }

    /// Follows the log from the end of the start-up replay: applies every new record and
    /// reconciles the runtimes. Stops (and makes writes fail) at a record it cannot read,
    /// since skipping it could drop a subscription.
    pub(super) async fn tail(
        self: Arc<Self>,
        inner: Arc<Mutex<Inner>>,
        config: ServerConfig,
        tls: HandlerTls,
    ) {
        let mut next = *self.applied.borrow();
        let mut failing = false;
        loop {
            let (records, high_watermark) = match self.log.read(next, TAIL_WAIT).await {
                Ok(read) => {
                    if failing {
                        tracing::info!(topic = %self.log.topic(), "metadata topic readable again");
                        failing = false;
                    }
                    read
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot read the metadata topic; retrying (changes made on other processes apply once it is readable)");
                        failing = true;
                    }
                    tokio::time::sleep(RETRY_DELAY).await;
                    continue;
                }
            };
            if records.is_empty() {
                // A long poll that returns nothing below the high watermark means compaction
                // removed those offsets; they hold nothing to apply.
                if high_watermark > next {
                    next = high_watermark;
                    self.applied.send_replace(next);
                }
                continue;
            }
            let mut guard = inner.lock().await;
            for raw in records {
                match MetadataRecord::decode(raw.key.as_deref(), raw.value.as_deref()) {
                    Ok(record) => {
                        self.apply(&mut guard, &config, raw.offset, record);
                        next = raw.offset + 1;
                    }
                    Err(e) => {
                        let error = self.unreadable(raw.offset, &e).to_string();
                        tracing::error!(error = %error, "metadata log halted");
                        *lock(&self.halted) = Some(error);
                        reconcile(&mut guard, &config, &tls).await;
                        self.applied.send_replace(next);
                        return;
                    }
                }
            }
            reconcile(&mut guard, &config, &tls).await;
            drop(guard);
            self.applied.send_replace(next);
        }
    }
}
