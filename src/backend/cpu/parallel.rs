//! Work split over the cores: each thread runs the same reference loop (or sgemm) on its own
//! contiguous part, so results are bit-identical to one thread's. Only large passes are
//! split: handing work to another thread costs microseconds.

use rayon::iter::{IntoParallelIterator, ParallelIterator};

/// Elements per thread for cheap arithmetic (a few operations each, as Adam's).
pub(super) const CHEAP: usize = 1 << 16;
/// Elements per thread for transcendental functions (`exp`, `ln_1p`: tens of ns each).
pub(super) const COSTLY: usize = 1 << 13;

/// The slice length that spreads `len` units over the cores, at least `min` each (so that
/// small passes stay on one thread).
pub(super) fn chunk_len(len: usize, min: usize) -> usize {
    len.div_ceil(threads()).max(min).max(1)
}

/// The cores, asked once: on Linux each question reads the cgroup files (it showed in the
/// profile).
pub(super) fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs `f` on each chunk of `work` (one item per chunk, made by the caller with
/// [`chunk_len`]) on rayon's pool of persistent threads (starting a thread per pass cost tens
/// of microseconds: the VAE step ran 3.7 ms with them, 3.4–3.6 ms with the pool); a single
/// chunk runs on the calling thread.
pub(super) fn for_each_chunk<T: Send>(work: Vec<T>, f: impl Fn(T) + Sync + Send) {
    if work.len() == 1 {
        work.into_iter().for_each(f);
        return;
    }
    work.into_par_iter().for_each(&f);
}
