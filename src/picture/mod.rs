//! Pictures: image grids, loss curves, animations.
