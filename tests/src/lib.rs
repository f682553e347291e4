//! Cross-crate integration tests live in `tests/`; scenario files in `scenarios/`.
