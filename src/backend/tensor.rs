//! Handles to backend memory. They carry no data: the backend that made them owns it.

/// Identifies one buffer of one backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufferId(pub(crate) u32);

/// A row-major `rows × cols` view of f32 values, `offset` elements into a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tensor {
    pub(crate) buffer: BufferId,
    pub(crate) offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

impl Tensor {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the view has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A `rows × cols` view starting `start` elements into this one: how parameters,
    /// gradients and optimizer moments are carved out of one flat buffer.
    ///
    /// # Panics
    /// If the view does not lie inside this tensor (a programming error, not user input).
    pub fn view(&self, start: usize, rows: usize, cols: usize) -> Tensor {
        assert!(
            start + rows * cols <= self.len(),
            "view [{start}, {}) outside a tensor of {} elements",
            start + rows * cols,
            self.len()
        );
        Tensor {
            buffer: self.buffer,
            offset: self.offset + start,
            rows,
            cols,
        }
    }

    /// The first `rows` rows.
    pub fn top_rows(&self, rows: usize) -> Tensor {
        self.view(0, rows, self.cols)
    }

    /// Rows `from..` to the end.
    pub fn rows_from(&self, from: usize) -> Tensor {
        self.view(from * self.cols, self.rows - from, self.cols)
    }

    /// The same elements seen as `rows × cols`.
    pub fn reshape(&self, rows: usize, cols: usize) -> Tensor {
        self.view(0, rows, cols)
    }
}

/// A buffer of u32 indices (an epoch's permutation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Indices {
    pub(crate) buffer: BufferId,
    /// Number of indices.
    pub len: usize,
}

/// A resident dataset of bytes (a dataset's pixels): `len / example_bytes` examples of
/// `example_bytes` bytes each, one after the other.
///
/// A backend may hold it in several *chunks* of whole examples, one buffer each: the GPU backend
/// splits a dataset larger than one storage binding of its device (see
/// `GpuBackend::upload_bytes`); the CPU backend keeps one chunk. Chunk `k` holds examples
/// `k·chunk_examples ..` (the last chunk may hold fewer) in buffer `buffer + k`: a dataset's
/// buffers are made one after the other, so their ids are consecutive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes {
    /// The buffer of the first chunk.
    pub(crate) buffer: BufferId,
    /// Number of chunks (at least one).
    pub(crate) chunks: u32,
    /// Examples in each chunk but the last.
    pub(crate) chunk_examples: usize,
    /// Number of bytes.
    pub len: usize,
    /// Bytes of one example (a batch row gathered from it has this many columns).
    pub example_bytes: usize,
}

impl Bytes {
    /// Number of examples.
    pub fn examples(&self) -> usize {
        self.len / self.example_bytes
    }

    /// Number of buffers the dataset is held in.
    pub fn chunks(&self) -> usize {
        self.chunks as usize
    }

    /// Chunk `k`: its buffer, its first example and its number of examples.
    pub(crate) fn chunk(&self, k: u32) -> (BufferId, usize, usize) {
        let first = k as usize * self.chunk_examples;
        let count = self.chunk_examples.min(self.examples() - first);
        (BufferId(self.buffer.0 + k), first, count)
    }
}
