//! MNIST-format data: IDX parsing, datasets, download.
