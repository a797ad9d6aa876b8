//! sea-query on pgtusk. Filled in by its own issue.
