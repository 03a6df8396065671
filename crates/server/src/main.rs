use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = mitai_server::cli::Cli::parse();
    if let Err(e) = mitai_server::cli::run(cli).await {
        eprintln!("mitai: {e:#}");
        std::process::exit(1);
    }
}
