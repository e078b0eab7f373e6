//! Running a request's database work off the async runtime: one transaction per request,
//! run again when PostgreSQL aborts it to keep concurrent ones serializable.

use super::*;

/// How many times a PostgreSQL request is run when concurrent ones keep winning.
pub(super) const SERIALIZATION_ATTEMPTS: u32 = 20;

/// Runs storage work off the async threads. A panic inside `work` answers 500 for this request
/// alone: it is caught while the lock is held, so the lock is never poisoned (an open SQLite
/// transaction rolls back as the panic unwinds), and other requests go on.
///
/// On PostgreSQL the work runs in one REPEATABLE READ transaction on a pooled connection, run
/// again from the start when it fails to serialize with a concurrent one, so it must only touch
/// the database. Resolutions and voids run here too: two of them racing on one item or one
/// payment both write the same row (the server's series, the payment), so the second fails to
/// serialize, runs again, and finds the item resolved (409), as with SQLite's lock.
pub(super) async fn with_db<T: Send + 'static>(
    state: &AppState,
    work: impl Fn(&mut dyn Storage) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ApiError> {
    run_db(state, RequestIsolation::Snapshot, Replay::Always, work).await
}

/// Whether a request whose connection was lost during its COMMIT runs again.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Replay {
    /// Reads, uploads and health: running twice records nothing twice (event ids are stored
    /// once; caches and health are overwritten).
    Always,
    /// A decision (a payment, a void, a resolution): it may already be recorded, and a second
    /// run could book an additional payment twice or answer 409 for what succeeded. Answered
    /// 503 saying it may be recorded; run again only when the connection broke before COMMIT.
    NotAfterCommit,
}

/// A decision an organizer makes (a payment, a void, a resolution), at `isolation`: see
/// [`Replay::NotAfterCommit`].
pub(super) async fn with_db_deciding<T: Send + 'static>(
    state: &AppState,
    isolation: RequestIsolation,
    work: impl Fn(&mut dyn Storage) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ApiError> {
    run_db(state, isolation, Replay::NotAfterCommit, work).await
}

/// [`with_db`] for a request that records something (an upload, health; a payment too,
/// through [`with_db_deciding`]): on PostgreSQL it runs READ COMMITTED, so two servers storing
/// events of the same mentor wait on each other's row locks instead of failing to serialize;
/// exactly-once rests on the unique keys (`ON CONFLICT DO NOTHING`), which hold at any
/// isolation level.
pub(super) async fn with_db_writing<T: Send + 'static>(
    state: &AppState,
    work: impl Fn(&mut dyn Storage) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ApiError> {
    run_db(state, RequestIsolation::ReadCommitted, Replay::Always, work).await
}

pub(super) async fn run_db<T: Send + 'static>(
    state: &AppState,
    isolation: RequestIsolation,
    replay: Replay,
    work: impl Fn(&mut dyn Storage) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ApiError> {
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || match db {
        Backend::Locked(db) => {
            // A poisoned lock can only come from a panic outside `catch_unwind`; the storage
            // it guards is still usable (every write is one transaction), so take it back.
            let mut guard = db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let storage: &mut dyn Storage = guard.as_mut();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(storage)))
                .unwrap_or_else(|_| Err(ServerError::Panicked))
        }
        Backend::Pool(pool) => {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut db = match pool.get() {
                    Ok(db) => db,
                    Err(e) => break Err(e),
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    db.in_request(isolation, |db| work(db))
                }))
                .unwrap_or_else(|_| {
                    // Its transaction was left open mid-way: the connection is not reused.
                    db.discard();
                    Err(ServerError::Panicked)
                });
                // A connection that broke (the database restarted, an administrator ended it,
                // an idle timeout): dropped, with the idle ones (a restart ended them too), and
                // the request tried on a fresh one, unless it is a decision whose COMMIT was
                // under way (see `Replay`). The client may not have noticed the close yet when
                // the error comes back (the server's "terminating connection" arrives as the
                // answer to the next statement), so the error's own kind counts too.
                let broken =
                    db.conn.is_closed() || matches!(&result, Err(e) if e.is_connection_lost());
                if broken {
                    db.discard();
                    pool.discard_idle();
                }
                drop(db);
                match result {
                    Err(e) if e.is_commit_unknown() && replay == Replay::NotAfterCommit => {
                        break Err(e)
                    }
                    Err(ServerError::Database(_)) if broken && attempt < SERIALIZATION_ATTEMPTS => {
                    }
                    Err(e) if e.is_retryable() && attempt < SERIALIZATION_ATTEMPTS => {
                        // Let the transaction that won finish before trying again (holding
                        // no connection meanwhile).
                        let jitter = u64::from(rand::random::<u8>() % 20);
                        std::thread::sleep(std::time::Duration::from_millis(
                            u64::from(attempt) * 5 + jitter,
                        ));
                    }
                    other => break other,
                }
            }
        }
    })
    .await
    .map_err(|_| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error".into(),
        )
    })?
    .map_err(ApiError::from)
}
