//! `triageboard user add NAME [--organizer]`: creates a user and prints their first API
//! token (the only time it is shown). `triageboard user password NAME`: sets a user's
//! log-in password from standard input (how the first organizer gets into the pages).

use std::io::Read;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::accounts;
use crate::config::DatabaseConfig;
use crate::db::Db;
use crate::db::users::Role;

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print an API token for them.
    Add(AddArgs),
    /// Set a user's log-in password, read from standard input (at least 8 characters).
    Password(PasswordArgs),
}

/// Arguments of `user password`.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The user's name.
    name: String,
    #[command(flatten)]
    db: DatabaseConfig,
}

/// Arguments of `user add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The user's name (letters, digits, '_', '.', '-').
    name: String,
    /// Make the user an organizer.
    #[arg(long)]
    organizer: bool,
    /// Read a log-in password from standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    db: DatabaseConfig,
}

/// Runs a `user` subcommand.
pub fn run(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add(args) => add(args),
        UserCommand::Password(args) => set_password(args),
    }
}

/// A password from standard input, one line; at least 8 characters.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the password")?;
    let password = text.trim_end_matches(['\r', '\n']).to_owned();
    if password.chars().count() < 8 {
        anyhow::bail!("the password must have at least 8 characters");
    }
    Ok(password)
}

fn set_password(args: PasswordArgs) -> anyhow::Result<()> {
    let password = password_from_stdin()?;
    super::serve::runtime()?.block_on(async move {
        let db = Db::connect(&args.db.database_url()).await?;
        db.migrate().await?;
        accounts::set_password(&db, &args.name, &password).await?;
        db.close().await;
        eprintln!("{:?} can now log in with that password", args.name);
        Ok(())
    })
}

fn add(args: AddArgs) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        Some(password_from_stdin()?)
    } else {
        None
    };
    let role = if args.organizer {
        Role::Organizer
    } else {
        Role::Participant
    };
    super::serve::runtime()?.block_on(async move {
        let db = Db::connect(&args.db.database_url()).await?;
        db.migrate().await?;
        let token =
            accounts::create_user_with_token(&db, &args.name, role, password.as_deref()).await?;
        db.close().await;
        eprintln!(
            "created {} {:?}; their API token (shown once):",
            role.as_str(),
            args.name
        );
        println!("{token}");
        Ok(())
    })
}
