//! The request log writer: calls hand their log rows to a bounded channel
//! and go on; a background task writes them in batches (by size, by
//! interval, and on shutdown). If the database stalls, rows wait in the
//! channel and the writer catches up; only when the channel is full is a
//! row dropped, and every dropped row is counted and logged as an error.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Mutex, mpsc},
    task::JoinHandle,
};

use crate::db::{Db, RequestLog};

/// Rows waiting to be written before new ones are dropped.
const CAPACITY: usize = 50_000;
/// Rows per write.
const BATCH: usize = 500;
/// Longest a row waits before a write.
const INTERVAL: Duration = Duration::from_millis(500);

pub struct RequestLogWriter {
    tx: std::sync::Mutex<Option<mpsc::Sender<RequestLog>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    dropped: Arc<AtomicU64>,
}

impl RequestLogWriter {
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(run(db, rx, dropped.clone()));
        Self { tx: std::sync::Mutex::new(Some(tx)), task: Mutex::new(Some(task)), dropped }
    }

    /// Queues a row; never waits.
    pub fn record(&self, row: RequestLog) {
        let tx = self.tx.lock().expect("log sender lock").clone();
        let sent = match tx {
            Some(tx) => tx.try_send(row).is_ok(),
            None => false,
        };
        if !sent {
            let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(dropped_total = total, "request log row dropped: the writer is full or stopped");
        }
    }

    /// Rows dropped since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops accepting rows and waits until every queued row is written.
    pub async fn close(&self) {
        self.tx.lock().expect("log sender lock").take();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<RequestLog>, dropped: Arc<AtomicU64>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        // Wait for a first row (or the end), then gather for up to INTERVAL.
        match rx.recv().await {
            Some(row) => batch.push(row),
            None => break,
        }
        let deadline = tokio::time::Instant::now() + INTERVAL;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(row)) => batch.push(row),
                Ok(None) | Err(_) => break,
            }
        }
        write(&db, &mut batch, &dropped).await;
    }
    write(&db, &mut batch, &dropped).await;
}

/// Writes a batch, retrying with backoff while the database is down; the
/// channel keeps accepting rows meanwhile.
async fn write(db: &Db, batch: &mut Vec<RequestLog>, dropped: &AtomicU64) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    for attempt in 1.. {
        match db.insert_request_logs(batch).await {
            Ok(()) => break,
            Err(e) if attempt < 8 => {
                tracing::warn!(error = %e, rows = batch.len(), attempt, "request log write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                let total = dropped.fetch_add(batch.len() as u64, Ordering::Relaxed) + batch.len() as u64;
                tracing::error!(error = %e, dropped = batch.len(), dropped_total = total, "request log rows dropped after repeated write failures");
                break;
            }
        }
    }
    batch.clear();
}
