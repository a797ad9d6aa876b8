//! Derive macros for pgtusk. Use them through `pgtusk` (feature `derive`), not directly.
