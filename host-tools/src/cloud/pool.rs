//! [`Pool`]: a fixed set of model sessions shared by concurrent requests; a request borrows
//! one ([`Pool::get`]) and the [`Lease`] gives it back when dropped.
//!
//! ```
//! use msao_host::cloud::Pool;
//!
//! let pool = Pool::new(vec![String::from("a"), String::from("b")]);
//! let a = pool.get();
//! let b = pool.get(); // a second request runs at the same time
//! assert!(pool.try_get().is_none()); // a third waits (`get`) or is refused (`try_get`)
//! assert_eq!(pool.max_busy(), 2);
//! drop(a);
//! assert!(pool.try_get().is_some());
//! # drop(b);
//! ```
//!
//! Semantics: bounded (the pool never makes an instance; `get` blocks until one is free, so
//! call it from a blocking thread); fair enough (a release wakes one waiter); a lease dropped
//! while unwinding still returns its instance, and a poisoned lock is recovered, because an
//! instance holds no cross-request state (the cloud resets the brain's stream per request).

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// A fixed set of instances, each used by one request at a time.
#[derive(Debug)]
pub struct Pool<T> {
    free: Mutex<Vec<T>>,
    released: Condvar,
    size: usize,
    busy: AtomicUsize,
    max_busy: AtomicUsize,
}

/// One borrowed instance; dropping it returns the instance to its pool.
#[derive(Debug)]
pub struct Lease<'a, T> {
    pool: &'a Pool<T>,
    item: Option<T>,
}

impl<T> Pool<T> {
    /// A pool of exactly these instances.
    pub fn new(items: Vec<T>) -> Self {
        Self {
            size: items.len(),
            free: Mutex::new(items),
            released: Condvar::new(),
            busy: AtomicUsize::new(0),
            max_busy: AtomicUsize::new(0),
        }
    }

    /// How many instances there are.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The most instances lent at once since the pool was made.
    pub fn max_busy(&self) -> usize {
        self.max_busy.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<T>> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A free instance, waiting until one is. An empty pool would wait forever: `size() > 0`
    /// is the caller's invariant ([`super::CloudState`] loads at least one of each).
    pub fn get(&self) -> Lease<'_, T> {
        let mut free = self.lock();
        loop {
            if let Some(item) = free.pop() {
                drop(free);
                return self.lend(item);
            }
            free = self
                .released
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A free instance now, or `None` when all are lent.
    pub fn try_get(&self) -> Option<Lease<'_, T>> {
        let item = self.lock().pop()?;
        Some(self.lend(item))
    }

    fn lend(&self, item: T) -> Lease<'_, T> {
        let busy = self.busy.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_busy.fetch_max(busy, Ordering::Relaxed);
        Lease {
            pool: self,
            item: Some(item),
        }
    }
}

impl<T> Deref for Lease<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Only `drop` takes the item out.
        self.item.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl<T> DerefMut for Lease<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl<T> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool.busy.fetch_sub(1, Ordering::Relaxed);
            self.pool.lock().push(item);
            self.pool.released.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn two_instances_serve_two_threads_at_once() {
        // Both threads hold a lease while waiting on the barrier: with one instance (or one
        // lock) the second `get` would never return and the barrier never open.
        let pool = Arc::new(Pool::new(vec![0u32, 0]));
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (pool, barrier) = (Arc::clone(&pool), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let mut lease = pool.get();
                    barrier.wait();
                    *lease += 1;
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(pool.max_busy(), 2);
        let mut all: Vec<u32> = pool.lock().clone();
        all.sort_unstable();
        assert_eq!(all, [1, 1], "every instance came back");
    }

    #[test]
    fn a_waiter_gets_the_released_instance() {
        let pool = Arc::new(Pool::new(vec![7u32]));
        let held = pool.get();
        assert!(pool.try_get().is_none());
        let waiter = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || *pool.get())
        };
        drop(held);
        assert_eq!(waiter.join().unwrap(), 7);
        assert_eq!(pool.max_busy(), 1, "never more lent than there are");
    }

    #[test]
    fn a_lease_dropped_by_a_panic_comes_back() {
        let pool = Arc::new(Pool::new(vec![1u8]));
        let p = Arc::clone(&pool);
        let r = std::thread::spawn(move || {
            let _lease = p.get();
            panic!("model failed");
        })
        .join();
        assert!(r.is_err());
        assert!(pool.try_get().is_some());
    }
}
