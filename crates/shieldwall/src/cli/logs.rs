//! The log output of the long-running commands (`serve`, `sync`): on standard error, filtered by
//! `SHIELDWALL_LOG` (an `EnvFilter` directive such as `info,shieldwall::sync=debug`), as text or
//! as one JSON object per line (`--log-format json`). Colour codes only on a terminal, and never
//! when `NO_COLOR` is set to a non-empty value.

use std::sync::OnceLock;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for journald, Loki, Elasticsearch …).
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Remembers the format chosen on the command line (before any subcommand runs).
pub(crate) fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// The default filter when `SHIELDWALL_LOG` is unset or invalid.
pub(crate) const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=info";

/// Whether colour codes may be written to standard error.
pub(crate) fn colour(is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the process's subscriber (once; later calls do nothing).
pub(crate) fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHIELDWALL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match FORMAT.get().copied().unwrap_or_default() {
        LogFormat::Json => {
            let _ = builder
                .json()
                .with_ansi(false)
                .flatten_event(true)
                .with_current_span(false)
                .try_init();
        }
        LogFormat::Text => {
            let ansi = colour(
                std::io::IsTerminal::is_terminal(&std::io::stderr()),
                std::env::var_os("NO_COLOR"),
            );
            let _ = builder.with_ansi(ansi).try_init();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
