//! `rapidrtmp`: RTMP ingest, HLS/CMAF packaging and inspection tools.
#![deny(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admission;
mod app;
mod clock;
mod config;
mod drain_cmd;
mod edge_cmd;
mod fd_limit;
mod health_cmd;
mod http;
mod inspect_cmd;
mod lifecycle;
mod live_edge;
mod local_http;
mod metrics;
mod owner;
mod package_cmd;
mod playback;
mod publish;
mod publish_hook;
mod refusals;
mod restream;
mod retention;
mod rtmp;
mod serve;
mod slots;
mod store;
mod streams;
mod sweep;
mod tls;
mod tokens;
mod webhooks;

/// The allocator: a server's, which keeps freed memory for the next request instead of
/// returning it to the kernel, so the multi-megabyte buffers of every chunk and segment do not
/// cost a page fault per 4 KiB each time (docs/operations.md, "Sizing").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The allocator's options, read before `main`: freed pages unused for a second go back to the
/// kernel (`dirty_decay_ms`, 10 s by default), so a node's memory stays at what its streams' open
/// segments hold (docs/operations.md, "Sizing") while a busy edge reuses its buffers.
// jemalloc reads this by name (`malloc_conf`, see jemalloc(3) "TUNING"); exporting a symbol is
// what `unsafe_code` forbids, and this one is a pointer to a constant NUL-terminated string.
#[allow(unsafe_code)]
#[export_name = "_rjem_malloc_conf"]
static ALLOCATOR_OPTIONS: Option<&u8> = Some(&b"dirty_decay_ms:1000\0"[0]);

/// RapidRTMP: live RTMP in, HLS with CMAF segments out. With no subcommand, runs `serve`.
#[derive(Parser)]
#[command(name = "rapidrtmp", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: config::ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the ingest node: RTMP publish → chunks in the store → HLS (the default).
    Serve(Box<config::ServeArgs>),
    /// Serve HLS from a store without ingesting: a stateless edge for any CDN.
    Edge(edge_cmd::EdgeArgs),
    /// Package a whole FLV file into HLS (index.m3u8, init and media segments), or into one
    /// fragmented MP4.
    #[command(group = clap::ArgGroup::new("output").required(true))]
    Package {
        /// The FLV file to package.
        input: PathBuf,
        /// The folder to write the HLS set into (created if missing).
        #[arg(long, group = "output")]
        out: Option<PathBuf>,
        /// Write one fragmented MP4 file instead of an HLS set.
        #[arg(long, group = "output")]
        mp4: Option<PathBuf>,
        /// Target segment duration in seconds; segments cut at the first keyframe at or after it.
        #[arg(long, default_value_t = 2.0, value_parser = package_cmd::parse_duration)]
        segment_duration: f64,
    },
    /// Check that a running node or edge answers (exit 0) or not (exit 1): the container's
    /// HEALTHCHECK.
    Health(health_cmd::HealthArgs),
    /// Tell a running node to take no new publishes (live streams go on) and wait for its
    /// streams to end: Kubernetes' preStop.
    Drain(drain_cmd::DrainArgs),
    /// Show what is inside an FLV or MP4/fMP4 file: tags, boxes, samples.
    Inspect {
        /// The file to inspect.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Makes glibc's malloc hand blocks of 128 KiB and more straight back to the OS when freed.
///
/// Each stream holds its open chunk (a whole segment, hundreds of KB) in one buffer, freed when
/// the chunk is written. By default glibc raises its mmap threshold after the first such free and
/// keeps later buffers on its heap, where freed memory stays resident: about 1.6× the live heap
/// in RSS with hundreds of streams. A fixed threshold keeps RSS at the live size.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_frees_to_the_os() {
    // SAFETY: mallopt only sets an allocator tunable; called first thing in main, before any
    // other thread exists or any allocation could race with it.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    return_large_frees_to_the_os();
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_node(cli.serve),
        Some(Command::Serve(args)) => run_node(*args),
        Some(Command::Edge(args)) => runtime().and_then(|rt| rt.block_on(edge_cmd::run(args))),
        Some(Command::Package { input, out, mp4, segment_duration }) => match (out, mp4) {
            (Some(out), _) => package_cmd::run(&input, &out, segment_duration),
            (None, Some(mp4)) => package_cmd::run_mp4(&input, &mp4, segment_duration),
            (None, None) => Err(anyhow::anyhow!("give --out DIR (HLS) or --mp4 FILE")),
        },
        Some(Command::Inspect { file, json }) => inspect_cmd::run(&file, json),
        Some(Command::Health(args)) => health_cmd::run(&args),
        Some(Command::Drain(args)) => drain_cmd::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// `rapidrtmp serve`: runs the ingest node on its own runtime until SIGINT or SIGTERM.
fn run_node(args: config::ServeArgs) -> anyhow::Result<()> {
    runtime()?.block_on(serve::run(args))
}
