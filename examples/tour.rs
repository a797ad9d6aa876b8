//! A tour of pgtusk. Grows with the driver.

fn main() {}
