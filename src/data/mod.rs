//! MNIST-format data: IDX parsing, datasets, download.

mod dataset;
mod error;
pub mod fetch;
pub mod idx;

pub use dataset::{BUNDLED_HOLDOUT, Dataset, Split, TrainTest, resolve, resolve_test};
pub use error::DataError;
pub use fetch::{FetchEvent, FetchReport, cache_folder, fetch, fetch_files};
pub use idx::Images;
