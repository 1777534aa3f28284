//! The `triageboard` binary: a thin shell around [`triageboard::cli`].

/// mimalloc instead of the system allocator: a reference model's training step is 1.1 to 1.2
/// times faster on it, a forward 1.7 to 2.4 times (`ALLOC=system bash
/// reference-model/bench/forward.sh`, docs/reference-models.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    triageboard::cli::main()
}
