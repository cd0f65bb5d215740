//! `shm-exchange`: the Writer and the Reader side by side, as two processes on one segment.
//!
//! The launcher stays while either window is open. It forwards SIGINT, SIGTERM and SIGHUP to
//! both windows (which close cleanly, so the segment goes), reopens a closed window when the
//! other one asks (their "open the Reader/Writer window" buttons) or when it is launched again
//! on the same segment, and never stacks a second pair on the first: one launcher per segment,
//! held by a lock the kernel releases when the launcher ends.

mod signal;

use std::ffi::OsString;
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Seek, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use shm_common::{CapacityArgs, SegmentArgs, SegmentLocation};

/// Opens the Writer and the Reader side by side, as two processes on one segment.
#[derive(Parser, Debug)]
#[command(name = "shm-exchange", version, about)]
struct Launcher {
    /// The segment both windows use.
    #[command(flatten)]
    segment: SegmentArgs,
    /// The Writer's `--capacity` (it grows the segment by itself when a picture needs it).
    #[command(flatten)]
    capacity: CapacityArgs,
}

/// Where each window goes: the Writer on the left, the Reader on its right.
const WRITER_POSITION: &str = "0,0";
const READER_POSITION: &str = "900,0";
/// How long the windows get to close after a signal before they are killed.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|arg| arg.to_str()) {
        Some("writer") => {
            args.remove(1);
            shm_writer::run(shm_writer::Args::parse_from(args))
        }
        Some("reader") => {
            args.remove(1);
            shm_reader::run(shm_reader::Args::parse_from(args))
        }
        _ => launch(&Launcher::parse()),
    }
}

/// The window processes of the pair.
struct Pair {
    exe: PathBuf,
    segment_flags: Vec<OsString>,
    capacity: Option<usize>,
    socket: PathBuf,
    writer: Option<Child>,
    reader: Option<Child>,
    failed: bool,
}

impl Pair {
    /// Starts `window` (`writer` or `reader`) unless it is running.
    fn open(&mut self, window: &str) {
        let (slot, position) = match window {
            "writer" => (&mut self.writer, WRITER_POSITION),
            "reader" => (&mut self.reader, READER_POSITION),
            _ => return,
        };
        if slot.is_some() {
            return;
        }
        let mut command = Command::new(&self.exe);
        command
            .arg(window)
            .args(&self.segment_flags)
            .args(["--position", position])
            .arg("--companion")
            .arg(&self.socket);
        if let (Some(capacity), "writer") = (self.capacity, window) {
            command.args(["--capacity", &capacity.to_string()]);
        }
        match command.spawn() {
            Ok(child) => *slot = Some(child),
            Err(err) => {
                eprintln!("shm-exchange: cannot start the {window}: {err}");
                self.failed = true;
            }
        }
    }

    /// Forgets windows that have closed; whether any is still open.
    fn reap(&mut self) -> bool {
        let mut failed = false;
        for slot in [&mut self.writer, &mut self.reader] {
            if let Some(child) = slot
                && let Ok(Some(status)) = child.try_wait()
            {
                failed |= !status.success();
                *slot = None;
            }
        }
        self.failed |= failed;
        self.writer.is_some() || self.reader.is_some()
    }

    /// Asks both windows to close (SIGTERM), and kills what is left after the grace period.
    fn close(&mut self) {
        for child in [&self.writer, &self.reader].into_iter().flatten() {
            signal::terminate(child.id());
        }
        let deadline = Instant::now() + CLOSE_GRACE;
        while self.reap() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        for child in [&mut self.writer, &mut self.reader].into_iter().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A short, stable key for a segment, for file names.
fn segment_key(location: &SegmentLocation) -> String {
    let mut hasher = DefaultHasher::new();
    location.to_string().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Where the lock and the socket live: the user's runtime directory, or the temp directory.
fn runtime_dir() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

fn launch(launcher: &Launcher) -> ExitCode {
    let location = launcher.segment.location();
    let key = segment_key(&location);
    let dir = runtime_dir();
    let lock_path = dir.join(format!("shm-exchange-{key}.lock"));
    let socket = dir.join(format!("shm-exchange-{key}.sock"));
    let mut lock = match File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
    {
        Ok(lock) => lock,
        Err(err) => {
            eprintln!(
                "shm-exchange: cannot create the lock file '{}': {err}",
                lock_path.display()
            );
            return ExitCode::FAILURE;
        }
    };
    if lock.try_lock().is_err() {
        return already_open(&mut lock, &socket, &location);
    }
    let _ = lock.set_len(0);
    let _ = write!(lock, "{}", std::process::id());
    // Ours now: a socket file left by a launcher that died is stale.
    let _ = std::fs::remove_file(&socket);
    let requests = match UnixDatagram::bind(&socket) {
        Ok(requests) => requests,
        Err(err) => {
            eprintln!(
                "shm-exchange: cannot listen at '{}': {err}",
                socket.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let _ = requests.set_read_timeout(Some(Duration::from_millis(100)));
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    // SIGINT, SIGTERM and SIGHUP (ctrlc's "termination" feature).
    if let Err(err) = ctrlc::set_handler(move || on_signal.store(true, Ordering::SeqCst)) {
        eprintln!("shm-exchange: signals will not reach the windows: {err}");
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            eprintln!("shm-exchange: cannot find its own executable to start the windows: {err}");
            return ExitCode::FAILURE;
        }
    };
    let segment_flags: Vec<OsString> = match &location {
        SegmentLocation::Named(name) => vec!["--name".into(), name.as_str().into()],
        SegmentLocation::File(path) => vec!["--file".into(), path.clone().into_os_string()],
    };
    let mut pair = Pair {
        exe,
        segment_flags,
        capacity: launcher.capacity.capacity,
        socket: socket.clone(),
        writer: None,
        reader: None,
        failed: false,
    };
    // The Writer first, so the Reader finds its segment at once (it would wait for it anyway).
    pair.open("writer");
    pair.open("reader");
    let mut buffer = [0u8; 16];
    while pair.reap() {
        if stop.load(Ordering::SeqCst) {
            pair.close();
            break;
        }
        if let Ok(len) = requests.recv(&mut buffer) {
            match &buffer[..len] {
                b"both" => {
                    pair.open("writer");
                    pair.open("reader");
                }
                b"writer" => pair.open("writer"),
                b"reader" => pair.open("reader"),
                _ => {}
            }
        }
    }
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&lock_path);
    if pair.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Another launcher holds the pair for this segment: ask it to reopen whatever was closed.
fn already_open(lock: &mut File, socket: &Path, location: &SegmentLocation) -> ExitCode {
    let mut pid = String::new();
    let _ = lock.rewind();
    let _ = lock.read_to_string(&mut pid);
    let asked = UnixDatagram::unbound().and_then(|client| client.send_to(b"both", socket));
    let pid = pid.trim();
    match asked {
        Ok(_) => {
            println!(
                "shm-exchange: the Writer and the Reader on {location} are already open (launcher pid {pid}); a window that was closed has been reopened"
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!(
                "shm-exchange: the Writer and the Reader on {location} are already open (launcher pid {pid}), but it could not be asked to reopen a closed window: {err}"
            );
            ExitCode::FAILURE
        }
    }
}
