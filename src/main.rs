use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    youmen::cli::run().await
}
