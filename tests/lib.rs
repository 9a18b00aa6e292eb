//! End-to-end tests of the vodbridge binary live in `e2e/`; the fixtures in `fixtures/`.
