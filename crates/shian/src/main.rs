//! The `shian` binary: parses the command line and hands over to the library.

/// mimalloc rather than the system allocator: bulk loads build rows on one thread and free them on
/// another, which glibc's allocator serialises (it was a third of the simulator's time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    shian::cli::main()
}
