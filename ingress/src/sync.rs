//! Small synchronisation helpers shared by the engine's modules.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the data if a panicking thread poisoned it: the guarded state is
/// plain bookkeeping that stays usable, and one failed task must not wedge every other user.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
