//! scorer (being written).
