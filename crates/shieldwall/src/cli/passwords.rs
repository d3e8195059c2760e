//! Reading a new password for `admin add-user` and `admin reset-password`: without echo on a
//! terminal (typed twice), else the first line of standard input; refused when
//! `policy::passwords::weakness` finds it weak.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use shieldwall::passwords::weakness;

/// The new password of `user`: prompted twice without echo on a terminal, else the first line
/// of standard input; refused when weak.
pub(crate) fn read_new(user: &str) -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {user}: "))
            .context("cannot read the password")?;
        if let Some(why) = weakness(&first, user) {
            bail!("password refused: {why}");
        }
        let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        if again != first {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if let Some(why) = weakness(&password, user) {
        bail!("password refused: {why} (NIST SP 800-63B; use a passphrase or a generated one)");
    }
    Ok(password)
}
