//! Reading the node's configuration: the file and the `SHIELDWALL_*` environment variables, which
//! the policy crate's [`Config`] takes as values.

use std::path::Path;

use policy::config::{Checked, Config, ConfigError, ENV_PREFIX};

/// Reads a TOML file, applies the `SHIELDWALL_*` variables of `env`, resolves relative paths
/// against the file's folder, and checks the result. A variable that sets nothing but looks
/// meant to (`SHIELDWALL_LISTEN` for `SHIELDWALL_SERVER__LISTEN`) is warned about.
pub fn load(path: &Path, env: &[(String, String)]) -> Result<Checked, ConfigError> {
    for warning in Config::misnamed_env(env) {
        tracing::warn!("{warning}");
    }
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        source_name: name.clone(),
        key: "(file)".to_owned(),
        reason: format!("cannot read: {e}"),
    })?;
    let folder = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    Config::from_file_text(&text, &name, &folder, env)
}

/// The `SHIELDWALL_*` variables of the process environment.
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_is_read_relative_to_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("etc");
        std::fs::create_dir(&sub).unwrap();
        let file = sub.join("node.toml");
        std::fs::write(
            &file,
            "[server]\ndata_dir = \"data\"\n[[members]]\nid = \"m\"\nname = \"M\"\nidentity = \"identity--00000001-0000-4000-8000-000000000000\"\n",
        )
        .unwrap();
        let c = load(&file, &[]).unwrap();
        assert_eq!(c.config.server.data_dir, sub.join("data"));
        let env = [(
            "SHIELDWALL_SERVER__LISTEN".to_owned(),
            "127.0.0.1:9".to_owned(),
        )];
        assert_eq!(load(&file, &env).unwrap().listen.port(), 9);
        let e = load(&sub.join("missing.toml"), &[]).unwrap_err();
        assert_eq!(e.key, "(file)");
        assert!(e.reason.starts_with("cannot read"), "{e}");
    }
}
