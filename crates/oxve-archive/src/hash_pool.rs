//! Block checksums checked on worker threads while the reader goes on: a restore
//! decompresses and writes the next blocks while earlier ones are hashed, on every core.
//! Blocks travel to a worker and back in page-aligned buffers (so file targets can write them
//! with direct I/O); a mismatch comes out when its buffer is taken back, at the latest in
//! [`HashPool::finish`], so an extraction still fails before it completes.

use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::direct_io::DIRECT_ALIGN;
use crate::record::{BlockHash, BLOCK_SIZE};

/// A page-aligned buffer of one block.
pub(crate) struct BlockBuf {
    backing: Vec<u8>,
    start: usize,
}

impl BlockBuf {
    fn new() -> Self {
        let backing = vec![0u8; BLOCK_SIZE + DIRECT_ALIGN];
        let start = backing.as_ptr().align_offset(DIRECT_ALIGN);
        BlockBuf { backing, start }
    }

    /// The first `len` bytes, to read a block into.
    pub fn window(&mut self, len: usize) -> &mut [u8] {
        &mut self.backing[self.start..self.start + len]
    }

    /// The first `len` bytes.
    pub fn data(&self, len: usize) -> &[u8] {
        &self.backing[self.start..self.start + len]
    }
}

/// Where a block with a wrong checksum was: disk index and offset.
pub(crate) type Mismatch = (usize, u64);

struct Job {
    buf: BlockBuf,
    len: usize,
    digest: [u8; 32],
    disk: usize,
    offset: u64,
}

struct Checked {
    buf: BlockBuf,
    mismatch: Option<Mismatch>,
}

/// Worker threads checking blocks against their digests.
pub(crate) struct HashPool {
    jobs: Option<SyncSender<Job>>,
    checked: Receiver<Checked>,
    workers: Vec<JoinHandle<()>>,
    free: Vec<BlockBuf>,
    in_flight: usize,
}

impl HashPool {
    /// One worker per core (at most 4), and one buffer more than workers; blocks are
    /// digested with `hash`.
    pub fn new(hash: BlockHash) -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
        let (jobs, queue) = sync_channel::<Job>(workers);
        let queue = Arc::new(Mutex::new(queue));
        let (done, checked) = channel::<Checked>();
        let workers = (0..workers)
            .map(|_| {
                let (queue, done) = (Arc::clone(&queue), done.clone());
                std::thread::spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let ok = hash.digest(job.buf.data(job.len)) == job.digest;
                    let mismatch = (!ok).then_some((job.disk, job.offset));
                    // The pool may be gone (an extraction that failed): nothing to report to.
                    let _ = done.send(Checked {
                        buf: job.buf,
                        mismatch,
                    });
                })
            })
            .collect::<Vec<_>>();
        let free = (0..=workers.len()).map(|_| BlockBuf::new()).collect();
        HashPool {
            jobs: Some(jobs),
            checked,
            workers,
            free,
            in_flight: 0,
        }
    }

    /// A buffer for the next block; waits for one to come back when all are out.
    pub fn take(&mut self) -> Result<BlockBuf, Mismatch> {
        if let Some(buf) = self.free.pop() {
            return Ok(buf);
        }
        self.take_back().map(|buf| buf.expect("a block is out"))
    }

    /// Gives a buffer back unused (a block checked by the caller itself).
    pub fn give_back(&mut self, buf: BlockBuf) {
        self.free.push(buf);
    }

    /// Has the first `len` bytes of `buf` checked against `digest` (block of `disk` at
    /// `offset`).
    pub fn submit(
        &mut self,
        buf: BlockBuf,
        len: usize,
        digest: [u8; 32],
        disk: usize,
        offset: u64,
    ) {
        let job = Job {
            buf,
            len,
            digest,
            disk,
            offset,
        };
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        assert!(matches!(sent, Some(Ok(()))), "hash workers stopped");
        self.in_flight += 1;
    }

    /// Waits until every block is checked; the first mismatch found.
    pub fn finish(&mut self) -> Result<(), Mismatch> {
        while let Some(buf) = self.take_back()? {
            self.free.push(buf);
        }
        Ok(())
    }

    /// One checked block's buffer; `None` when none is out.
    fn take_back(&mut self) -> Result<Option<BlockBuf>, Mismatch> {
        if self.in_flight == 0 {
            return Ok(None);
        }
        let checked = self.checked.recv().expect("hash workers stopped");
        self.in_flight -= 1;
        match checked.mismatch {
            Some(m) => Err(m),
            None => Ok(Some(checked.buf)),
        }
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        self.jobs = None; // the workers end when the queue is closed and empty
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(fill: u8) -> (BlockBuf, [u8; 32]) {
        let mut buf = BlockBuf::new();
        buf.window(4096).fill(fill);
        let digest = BlockHash::Blake3.digest(buf.data(4096));
        (buf, digest)
    }

    #[test]
    fn good_blocks_pass_and_a_bad_one_is_named() {
        let mut pool = HashPool::new(BlockHash::Blake3);
        for i in 0..10u64 {
            let (_, digest) = block(i as u8);
            let mut buf = pool.take().unwrap();
            buf.window(4096).fill(i as u8);
            pool.submit(buf, 4096, digest, 0, i * 4096);
        }
        pool.finish().unwrap();

        let (_, digest) = block(1);
        let mut buf = pool.take().unwrap();
        buf.window(4096).fill(2);
        pool.submit(buf, 4096, digest, 3, 8192);
        assert_eq!(pool.finish(), Err((3, 8192)));
    }

    #[test]
    fn buffers_are_page_aligned() {
        let mut buf = BlockBuf::new();
        assert_eq!(buf.window(BLOCK_SIZE).as_ptr() as usize % DIRECT_ALIGN, 0);
    }
}
