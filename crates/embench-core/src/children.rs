//! Helper processes a backend runs its model in (the Python workers): their
//! memory and CPU time belong to the backend, so the runner's resource sampler
//! adds every process registered here to its own.

use std::sync::Mutex;

static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Counts `pid`'s RSS and CPU time as this process's until [`unregister`].
pub fn register(pid: u32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// Stops counting `pid`.
pub fn unregister(pid: u32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).retain(|&p| p != pid);
}

/// The processes registered now.
pub fn registered() -> Vec<u32> {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
