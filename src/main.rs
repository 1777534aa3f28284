//! The `triageboard` binary: a thin shell around [`triageboard::cli`].

fn main() -> std::process::ExitCode {
    triageboard::cli::main()
}
