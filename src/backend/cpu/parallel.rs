//! Elementwise work split over the cores: each thread runs the same reference loop on its own
//! contiguous slice, so results are bit-identical to one thread's. Only large passes are
//! split: a thread costs tens of microseconds to start.

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
/// [`chunk_len`]), the first on the calling thread and the others on threads of their own.
pub(super) fn for_each_chunk<T: Send>(work: Vec<T>, f: impl Fn(T) + Sync) {
    let mut work = work.into_iter();
    let Some(first) = work.next() else { return };
    std::thread::scope(|scope| {
        for item in work {
            let f = &f;
            scope.spawn(move || f(item));
        }
        f(first);
    });
}
