//! One module per subcommand. Each exposes `Args` (or a `Command` enum) and
//! `run(...) -> anyhow::Result<ExitCode>`; errors become exit status 2 in `main`.

pub(crate) mod admin;
pub(crate) mod assist;
pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod coordio;
pub(crate) mod disarm;
pub(crate) mod export;
pub(crate) mod exports;
pub(crate) mod fimi;
pub(crate) mod import;
pub(crate) mod incident;
pub(crate) mod init;
pub(crate) mod latest;
pub(crate) mod logs;
pub(crate) mod lookup;
pub(crate) mod misp_in;
pub(crate) mod misp_out;
pub(crate) mod node;
pub(crate) mod objscan;
pub(crate) mod package;
pub(crate) mod passwords;
pub(crate) mod pattern;
pub(crate) mod report;
pub(crate) mod scan;
pub(crate) mod serve;
pub(crate) mod sync;
pub(crate) mod validate;
pub(crate) mod warninglists;
