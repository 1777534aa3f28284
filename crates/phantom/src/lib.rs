//! phantom (being written).
