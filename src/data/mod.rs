//! Data: IDX parsing, picture folders, datasets, download.

pub mod cifar;
mod dataset;
mod error;
pub mod fetch;
pub mod folder;
pub mod idx;

pub use dataset::{
    BUNDLED_HOLDOUT, DEFAULT_IMAGE_SIZE, Dataset, Pictures, Split, TrainTest, resolve,
    resolve_sized, resolve_test,
};
pub use error::DataError;
pub use fetch::{FetchEvent, FetchReport, cache_folder, fetch, fetch_archive, fetch_files};
pub use idx::Images;
