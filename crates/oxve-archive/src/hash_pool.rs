//! Block checksums checked on worker threads while the reader goes on: a restore
//! decompresses the next blocks while earlier ones are hashed (and, for targets that take
//! writes from several threads, written), on every core. Blocks travel to a worker and back
//! in page-aligned buffers (so file targets can write them with direct I/O); a failure comes
//! out when its buffer is taken back, at the latest in [`HashPool::finish`], so an extraction
//! still fails before it completes. A worker writes a block only once it checked it.

use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::direct_io::DIRECT_ALIGN;
use crate::reader::SharedWrite;
use crate::record::{BlockHash, BLOCK_SIZE};

/// A page-aligned buffer of one block.
pub(crate) struct BlockBuf {
    backing: Vec<u8>,
    start: usize,
}

impl BlockBuf {
    pub fn new() -> Self {
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

/// What a worker found wrong with a block.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Its data does not match its digest.
    Mismatch { disk: usize, offset: u64 },
    /// Writing it to its target's shared writer failed.
    Write {
        disk: usize,
        offset: u64,
        error: std::io::Error,
    },
}

/// One block to check (and then write, with a `sink`).
pub(crate) struct BlockJob {
    pub len: usize,
    pub digest: [u8; 32],
    pub disk: usize,
    pub offset: u64,
    pub sink: Option<Arc<dyn SharedWrite>>,
}

struct Job {
    buf: BlockBuf,
    block: BlockJob,
}

struct Checked {
    buf: BlockBuf,
    failure: Option<Failure>,
}

/// Checks a block and, when it is sound and has a sink, writes it there.
fn check_and_write(hash: BlockHash, buf: &BlockBuf, job: BlockJob) -> Option<Failure> {
    let data = buf.data(job.len);
    if hash.digest(data) != job.digest {
        return Some(Failure::Mismatch {
            disk: job.disk,
            offset: job.offset,
        });
    }
    let sink = job.sink?;
    let error = sink.write_at(job.offset, data).err()?;
    Some(Failure::Write {
        disk: job.disk,
        offset: job.offset,
        error,
    })
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
                    let Ok(Job { buf, block }) = job else { return };
                    let failure = check_and_write(hash, &buf, block);
                    // The pool may be gone (an extraction that failed): nothing to report to.
                    let _ = done.send(Checked { buf, failure });
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
    pub fn take(&mut self) -> Result<BlockBuf, Failure> {
        if let Some(buf) = self.free.pop() {
            return Ok(buf);
        }
        self.take_back().map(|buf| buf.expect("a block is out"))
    }

    /// Gives a buffer back unused (a block checked by the caller itself).
    pub fn give_back(&mut self, buf: BlockBuf) {
        self.free.push(buf);
    }

    /// Has the block in `buf` checked (and written) as `block` says.
    pub fn submit(&mut self, buf: BlockBuf, block: BlockJob) {
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(Job { buf, block }));
        assert!(matches!(sent, Some(Ok(()))), "hash workers stopped");
        self.in_flight += 1;
    }

    /// Waits until every block is checked (and written); the first failure found.
    pub fn finish(&mut self) -> Result<(), Failure> {
        while let Some(buf) = self.take_back()? {
            self.free.push(buf);
        }
        Ok(())
    }

    /// One checked block's buffer; `None` when none is out.
    fn take_back(&mut self) -> Result<Option<BlockBuf>, Failure> {
        if self.in_flight == 0 {
            return Ok(None);
        }
        let checked = self.checked.recv().expect("hash workers stopped");
        self.in_flight -= 1;
        match checked.failure {
            Some(f) => Err(f),
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

    /// Records the offsets written.
    #[derive(Default)]
    struct Written(Mutex<Vec<u64>>);

    impl SharedWrite for Written {
        fn write_at(&self, offset: u64, _data: &[u8]) -> std::io::Result<()> {
            self.0.lock().unwrap().push(offset);
            Ok(())
        }
    }

    fn submit(
        pool: &mut HashPool,
        fill: u8,
        claimed: u8,
        disk: usize,
        offset: u64,
        to: &Arc<Written>,
    ) {
        let mut buf = pool.take().unwrap();
        buf.window(4096).fill(claimed);
        let digest = BlockHash::Blake3.digest(buf.data(4096));
        buf.window(4096).fill(fill);
        let sink: Arc<dyn SharedWrite> = to.clone();
        let job = BlockJob {
            len: 4096,
            digest,
            disk,
            offset,
            sink: Some(sink),
        };
        pool.submit(buf, job);
    }

    #[test]
    fn sound_blocks_are_written_and_a_damaged_one_is_named_not_written() {
        let mut pool = HashPool::new(BlockHash::Blake3);
        let written = Arc::new(Written::default());
        for i in 0..10u8 {
            submit(&mut pool, i, i, 0, u64::from(i) * 4096, &written);
        }
        pool.finish().unwrap();
        let mut offsets = written.0.lock().unwrap().clone();
        offsets.sort();
        assert_eq!(offsets, (0..10).map(|i| i * 4096).collect::<Vec<_>>());

        submit(&mut pool, 2, 1, 3, 8192, &written);
        assert!(matches!(
            pool.finish(),
            Err(Failure::Mismatch {
                disk: 3,
                offset: 8192
            })
        ));
        assert_eq!(written.0.lock().unwrap().len(), 10);
    }

    #[test]
    fn buffers_are_page_aligned() {
        let mut buf = BlockBuf::new();
        assert_eq!(buf.window(BLOCK_SIZE).as_ptr() as usize % DIRECT_ALIGN, 0);
    }
}
