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

/// A resident buffer of bytes (a dataset's pixels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes {
    pub(crate) buffer: BufferId,
    /// Number of bytes.
    pub len: usize,
}
