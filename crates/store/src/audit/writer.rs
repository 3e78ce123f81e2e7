//! Group commit of the audit entries that are not part of a larger change.

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::{Event, append};
use crate::StoreError;

type Pending = (Event, oneshot::Sender<Result<i64, String>>);

/// Group commit for audit entries that are not part of a larger change (reads,
/// exports). Callers wait until their entry is durable; many waiting callers share
/// one transaction and one fsync.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Pending>,
}

/// How many entries one group commit takes at most.
const GROUP_MAX: usize = 2048;

impl Writer {
    pub(crate) fn spawn(pool: AnyPool) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Pending>(GROUP_MAX * 4);
        tokio::spawn(async move {
            let mut batch: Vec<Pending> = Vec::with_capacity(GROUP_MAX);
            while rx.recv_many(&mut batch, GROUP_MAX).await > 0 {
                let events: Vec<Event> = batch.iter().map(|(e, _)| e.clone()).collect();
                let result = async {
                    let mut t = crate::db::write_tx(&pool).await?;
                    let seqs = append(&mut t, &events).await?;
                    t.commit().await?;
                    Ok::<_, StoreError>(seqs)
                }
                .await;
                match result {
                    Ok(seqs) => {
                        for ((_, reply), seq) in batch.drain(..).zip(seqs) {
                            let _ = reply.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        for (_, reply) in batch.drain(..) {
                            let _ = reply.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        Writer { tx }
    }

    /// Records `event` and returns once it is committed.
    pub(crate) async fn record(&self, event: Event) -> Result<i64, StoreError> {
        let (reply, wait) = oneshot::channel();
        self.tx.send((event, reply)).await.map_err(|_| StoreError::Audit("audit writer stopped".into()))?;
        wait.await.map_err(|_| StoreError::Audit("audit writer stopped".into()))?.map_err(StoreError::Audit)
    }
}
