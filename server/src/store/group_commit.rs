//! Group commit for SQLite's one writer. Writes of one kind that queue behind the write gate are
//! done together, in one transaction, by whichever of them gets the gate first: the begin, the
//! commit and the hand-over of the gate are paid once per group instead of once per write, which
//! is most of what a write costs there. Each write still gets its own result.
//!
//! The group runs in a task of its own, so a request whose client goes away meanwhile (its future
//! dropped) neither stops the others' writes halfway nor leaves the gate held.

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
};
use tokio::sync::oneshot;

/// Writes of type `J` waiting for the gate, each with where its result `R` goes.
pub struct GroupCommit<J, R> {
    gate: Arc<tokio::sync::Mutex<()>>,
    waiting: Mutex<Vec<(J, oneshot::Sender<R>)>>,
}

impl<J: Send + 'static, R: Send + 'static> GroupCommit<J, R> {
    /// Groups writes queued at `gate` (shared with the store's other gated writers).
    pub fn new(gate: Arc<tokio::sync::Mutex<()>>) -> Self {
        GroupCommit { gate, waiting: Mutex::new(Vec::new()) }
    }

    /// Queues `job`, and when this caller gets the gate first, runs every job queued by then with
    /// `write` (which returns one result per job, in order). `None` when the group's task failed
    /// before giving this job its result (it panicked, or returned too few results).
    pub async fn run<F, Fut>(&self, job: J, write: F) -> Option<R>
    where
        F: FnOnce(Vec<J>) -> Fut,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let (tell, told) = oneshot::channel();
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).push((job, tell));
        let gate = self.gate.clone().lock_owned().await;
        let group = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner));
        if group.is_empty() {
            // An earlier holder took this job with its group and finished it before letting go of
            // the gate: the result is there already.
            drop(gate);
        } else {
            let (jobs, tells): (Vec<J>, Vec<_>) = group.into_iter().unzip();
            let written = write(jobs);
            let task = tokio::spawn(async move {
                let results = written.await;
                for (tell, result) in tells.into_iter().zip(results) {
                    // The caller may have gone: its write stands all the same.
                    let _ = tell.send(result);
                }
                drop(gate);
            });
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a group of writes failed before telling its results");
            }
        }
        told.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_job_gets_its_own_result_and_queued_jobs_go_together() {
        let gate = Arc::new(tokio::sync::Mutex::new(()));
        let group = Arc::new(GroupCommit::<usize, usize>::new(gate.clone()));
        let groups = Arc::new(AtomicUsize::new(0));
        // Another writer holds the gate while 40 jobs queue behind it.
        let held = gate.clone().lock_owned().await;
        let mut calls = Vec::new();
        for i in 0..40 {
            let (group, groups) = (group.clone(), groups.clone());
            calls.push(tokio::spawn(async move {
                group
                    .run(i, move |jobs| async move {
                        groups.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        jobs.into_iter().map(|j| j * 10).collect()
                    })
                    .await
            }));
        }
        while group.waiting.lock().unwrap().len() < 40 {
            tokio::task::yield_now().await;
        }
        drop(held);
        for (i, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap(), Some(i * 10));
        }
        assert_eq!(groups.load(Ordering::SeqCst), 1, "the 40 queued jobs were written as one group");
    }

    #[tokio::test]
    async fn a_group_that_breaks_tells_its_jobs_so() {
        let group = GroupCommit::<u8, u8>::new(Arc::default());
        assert_eq!(group.run(1, |_| async { Vec::new() }).await, None);
        // The gate is free again: the next job is written.
        assert_eq!(group.run(2, |jobs| async move { jobs }).await, Some(2));
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_does_not_stop_its_group() {
        let gate = Arc::new(tokio::sync::Mutex::new(()));
        let group = Arc::new(GroupCommit::<u8, u8>::new(gate.clone()));
        let written = Arc::new(AtomicUsize::new(0));
        let w = written.clone();
        let call = tokio::spawn({
            let group = group.clone();
            async move {
                group
                    .run(1, move |jobs| async move {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        w.fetch_add(jobs.len(), Ordering::SeqCst);
                        jobs
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        call.abort();
        // The gate is let go only once the group is written.
        let _gate = gate.lock().await;
        assert_eq!(written.load(Ordering::SeqCst), 1);
    }
}
