//! The `triageboard` binary: a thin shell around [`triageboard::cli`].

/// mimalloc instead of the system allocator: a reference model's training step is 1.1 to 1.2
/// times faster on it, a forward 1.7 to 2.4 times (`ALLOC=system bash
/// reference-model/bench/forward.sh`, docs/reference-models.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The mimalloc option that [`keep_freed_memory`] sets, and its value: never hand freed
/// memory back to the kernel.
const PURGE_DELAY: (&str, &str) = ("MIMALLOC_PURGE_DELAY", "-1");

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    triageboard::cli::main()
}

/// By default mimalloc hands freed memory back to the kernel 10 ms after it is freed, so the
/// tens of megabytes of buffers of every network pass come back as fresh pages that the
/// kernel zeroes (12-15% of a `perf` profile of inference and of a training step). Kept,
/// the demo's six baselines were computed 1.2 times faster (`NO_CACHE=1 bash
/// bench/demo_start.sh`: 181.4 and 183.0 s against 210.8 and 237.3 s), for a resident size
/// that stays at its peak. mimalloc reads its options from the environment before `main`,
/// and setting one from Rust is an unsafe call, which the workspace forbids; so the binary
/// runs itself again once, in place (`exec`, same process), with the variable set. A value
/// already in the environment is kept.
fn keep_freed_memory() {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let (name, value) = PURGE_DELAY;
        if std::env::var_os(name).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        // `exec` returns only if it failed; the process then goes on with mimalloc's default.
        let _ = std::process::Command::new(exe)
            .arg0(arg0)
            .args(args)
            .env(name, value)
            .exec();
    }
}
