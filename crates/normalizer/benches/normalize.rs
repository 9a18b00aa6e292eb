//! Normalization benchmark (written with the normalizer).
fn main() {}
