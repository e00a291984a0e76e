//! The table of jobs by id, split into shards so that no growth rehashes
//! every job at once: a hash table doubles when it fills, moving all its
//! entries in one go, and with a million jobs in one table that stalled every
//! client for tens of milliseconds. With 64 shards, chosen by bits of the
//! id's random part, each growth moves about 1/64 of the jobs. Jobs are boxed,
//! so a table's empty slots cost a pointer, not a whole job.

use crate::ids::JobId;
use crate::job::Job;
use crate::node::Map;
use rand::rngs::StdRng;
use rand::Rng;

/// Shards of the table (a power of two).
const SHARDS: usize = 64;

/// Jobs by id.
pub(crate) struct JobMap {
    shards: Vec<Map<JobId, Box<Job>>>,
    len: usize,
}

impl JobMap {
    /// An empty table whose hashers are seeded from `rng`.
    pub(crate) fn new(rng: &mut StdRng) -> JobMap {
        let shards = (0..SHARDS)
            .map(|_| {
                Map::with_hasher(ahash::RandomState::with_seeds(
                    rng.gen(),
                    rng.gen(),
                    rng.gen(),
                    rng.gen(),
                ))
            })
            .collect();
        JobMap { shards, len: 0 }
    }

    /// The shard of an id: the top bits of a mix of its random part.
    fn shard(id: &JobId) -> usize {
        (id.scan_key().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SHARDS
    }

    /// The job with this id.
    pub(crate) fn get(&self, id: &JobId) -> Option<&Job> {
        self.shards[Self::shard(id)].get(id).map(|j| &**j)
    }

    /// The job with this id, to change it.
    pub(crate) fn get_mut(&mut self, id: &JobId) -> Option<&mut Job> {
        self.shards[Self::shard(id)].get_mut(id).map(|j| &mut **j)
    }

    /// True when a job has this id.
    pub(crate) fn contains_key(&self, id: &JobId) -> bool {
        self.shards[Self::shard(id)].contains_key(id)
    }

    /// Adds (or replaces) a job.
    pub(crate) fn insert(&mut self, id: JobId, job: Job) {
        if self.shards[Self::shard(&id)]
            .insert(id, Box::new(job))
            .is_none()
        {
            self.len += 1;
        }
    }

    /// Removes a job.
    pub(crate) fn remove(&mut self, id: &JobId) -> Option<Box<Job>> {
        let job = self.shards[Self::shard(id)].remove(id);
        if job.is_some() {
            self.len -= 1;
        }
        job
    }

    /// Number of jobs.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when there is no job.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every id.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &JobId> {
        self.shards.iter().flat_map(|s| s.keys())
    }

    /// Every job.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Job> {
        self.shards.iter().flat_map(|s| s.values().map(|j| &**j))
    }

    /// Every job, to change them.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Job> {
        self.shards
            .iter_mut()
            .flat_map(|s| s.values_mut().map(|j| &mut **j))
    }

    /// Removes every job.
    pub(crate) fn clear(&mut self) {
        for shard in &mut self.shards {
            shard.clear();
        }
        self.len = 0;
    }
}

impl std::ops::Index<&JobId> for JobMap {
    type Output = Job;

    fn index(&self, id: &JobId) -> &Job {
        self.get(id).expect("a job that exists")
    }
}
