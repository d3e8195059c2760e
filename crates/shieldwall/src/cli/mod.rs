//! One module per subcommand. Each exposes `Args` (or a `Command` enum) and
//! `run(...) -> anyhow::Result<ExitCode>`; errors become exit status 2 in `main`.

pub(crate) mod exports;
pub(crate) mod pattern;
pub(crate) mod scan;
pub(crate) mod validate;
