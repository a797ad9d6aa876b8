//! The side-by-side benchmark. Its workloads arrive with the bench issue.

fn main() {
    println!("pgtusk-bench: no workloads yet");
}
