//! The `omnimcp` binary: parses the command line and runs a command.

use clap::Parser;
use omnimcp::{
    admin,
    config::{Cli, Command},
    db::Db,
    http, secrets, telemetry,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Stdio servers: stdout is the MCP channel, so logs go to stderr.
    match &cli.command {
        Some(Command::Contain { memory_bytes, cpu_secs, tasks, open_files, program }) => {
            let limits = omnimcp::upstream::sandbox::Limits {
                memory_bytes: *memory_bytes,
                cpu_secs: *cpu_secs,
                tasks: *tasks,
                open_files: *open_files,
            };
            let (program, args) = program.split_first().expect("clap requires the program");
            return omnimcp::upstream::sandbox::contain(limits, program, args);
        }
        Some(Command::Official { name, api }) => {
            telemetry::init_stderr();
            return omnimcp::official::run(name, api).await;
        }
        Some(Command::Connect { url, api_key }) => {
            // rmcp's service layer reports every ordinary shutdown ("fail to
            // close sink") and repeats connection failures we already explain;
            // desktop clients show stderr to users, so keep it to our words.
            telemetry::init_stderr_with("warn,rmcp::service=off");
            return omnimcp::connect::run(url, api_key.expose()).await;
        }
        _ => {}
    }
    telemetry::init(cli.config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(cli.config.bind).await?;
            let bound = listener.local_addr()?;
            let state = omnimcp::build_state(cli.config, bound).await?;
            tracing::info!(
                address = %bound,
                url = %state.public_url,
                database = state.db.engine(),
                data_dir = %state.config.data_dir.display(),
                "listening on http://{bound}"
            );
            http::serve(listener, state, http::shutdown_signal()).await?;
            tracing::info!("stopped");
        }
        Command::Official { .. } | Command::Connect { .. } | Command::Contain { .. } => {
            unreachable!("handled above")
        }
        Command::Admin(command) => {
            secrets::ensure_data_dir(&cli.config.data_dir)?;
            let db = Db::connect(cli.config.database_url().expose()).await?;
            admin::run(&db, &cli.config, command).await?;
            db.close().await;
        }
    }
    Ok(())
}
