//! `shm bench`: the same transfers between two real processes over shared memory, a pipe, a
//! Unix stream socket and TCP on loopback (and, with `--bridge`, through two `shm-bridge`
//! processes on loopback), with the floors measured in the same run.
//!
//! The peer process is this executable again (`shm bench-peer ROLE ...`, hidden). Every
//! transport moves the same bytes the same way: the sender stamps each message with the
//! machine-wide monotonic clock, the receiver has the whole message in its own buffer before
//! it takes its own timestamp, so one-way times need no clock synchronisation.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU64, Ordering, fence};

use serde_json::{Value, json};
use shm_common::{
    Capacity, CreationMode, Follower, ImageMessage, OpenError, PICTURE_CHANNEL, Reader, RecordKind,
    SegmentEvent, SegmentLocation, SegmentName, SharedBytes, SharedLine, TestData, WaitMode,
    Writer, monotonic_ns,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;
/// The two directions of a byte stream to a peer.
type Duplex = (Box<dyn Read>, Box<dyn Write>);

/// Bytes of the large one-way message.
const LARGE: usize = 10 * 1024 * 1024;
/// Bytes of one 1920x1080 RGBA frame.
const FRAME: usize = 1920 * 1080 * 4;
/// Bytes of the small round-trip message (the struct).
const SMALL: usize = 48;
/// Untimed messages before each measurement: page faults, caches, branch predictors.
const WARM_UP: usize = 5;
/// How long either side waits for the other's next message (or its segment, or its
/// connection) before giving up with an error: far beyond any measured transfer, even of a
/// debug build on a loaded machine.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a wait looks whether the other process is still there.
const LIVENESS_CHECK: Duration = Duration::from_millis(100);

/// What `shm bench` measures and how much.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// Round trips of the 48-byte struct per transport.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// One-way 10 MiB messages per transport.
    #[arg(long, default_value_t = 60)]
    pub large_messages: usize,
    /// Seconds of the 1080p frame stream.
    #[arg(long, default_value_t = 3.0)]
    pub frame_seconds: f64,
    /// Seconds the idle Reader waits in live mode while its CPU time is measured.
    #[arg(long, default_value_t = 10.0)]
    pub idle_seconds: f64,
    /// Pin this process and its peer to these two CPUs, e.g. 0,1.
    #[arg(long, value_name = "A,B", value_parser = parse_cpus)]
    pub cpus: Option<[usize; 2]>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also measure the round trip and 10 MiB one way through two `shm-bridge` processes
    /// talking Zenoh over TCP on loopback. PATH is the `shm-bridge` program: by default the one
    /// beside this program, else the one on PATH.
    #[arg(long, value_name = "PATH")]
    pub bridge: Option<Option<PathBuf>>,
}

fn parse_cpus(text: &str) -> std::result::Result<[usize; 2], String> {
    let parse = |part: &str| part.trim().parse::<usize>().ok();
    match text.split_once(',').map(|(a, b)| (parse(a), parse(b))) {
        Some((Some(own), Some(peer))) => Ok([own, peer]),
        _ => Err(format!(
            "'{text}' is not two CPU numbers; write A,B, e.g. 0,1"
        )),
    }
}

/// The peer's roles.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PeerRole {
    /// Hand one cache line back: the round-trip floor.
    FloorEcho,
    /// Echo records of a bare two-line seqlock with no work: the floor under shm's own line
    /// traffic.
    FloorSeqlockEcho,
    /// Copy 10 MiB out of bare shared memory as it is copied in: the one-way floor.
    FloorSink,
    /// Load 10 MiB of bare shared memory as it is copied in, keeping none of it: the floor
    /// under a record held in place.
    FloorLoad,
    /// Echo 48-byte messages over shared memory.
    ShmEcho,
    /// Receive 10 MiB messages over shared memory, acknowledging each with its latency.
    ShmSink,
    /// Hold 10 MiB messages in place (leases), acknowledging each with its latency.
    ShmLease,
    /// Receive frames over shared memory, checking each, acknowledging each.
    ShmFrames,
    /// Wait in live mode on shared memory and report the CPU time used.
    ShmIdle,
    /// Publish and read back `--count` 48-byte structs in this one process, for counting
    /// instructions (`valgrind --tool=callgrind`): no other process, no waiting.
    ShmOps,
    /// Echo 48-byte messages over a stream (stdin/stdout, a Unix socket or TCP).
    StreamEcho,
    /// Receive 10 MiB messages over a stream, acknowledging each with its latency.
    StreamSink,
}

/// The hidden `shm bench-peer` command.
#[derive(Clone, Debug, clap::Args)]
pub struct PeerArgs {
    /// What to do.
    #[arg(value_enum)]
    pub role: PeerRole,
    /// Base name of the segments (shared-memory roles).
    #[arg(long)]
    pub segment: Option<String>,
    /// Connect to this Unix socket instead of using stdin/stdout.
    #[arg(long)]
    pub unix: Option<PathBuf>,
    /// Connect to this TCP port on 127.0.0.1 instead of using stdin/stdout.
    #[arg(long)]
    pub tcp: Option<u16>,
    /// Seconds (idle role).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Structs to publish and read (ops role).
    #[arg(long, default_value_t = 10_000)]
    pub count: u32,
    /// CPU to pin to.
    #[arg(long)]
    pub cpu: Option<usize>,
    /// The `shm bench` process waiting on this one (the parent it was started by, if not
    /// given): the peer ends itself once that has exited.
    #[arg(long)]
    pub parent: Option<u32>,
    /// Wait by spinning only, never sleeping ([`WaitMode::BusyPoll`]).
    #[arg(long)]
    pub busy_poll: bool,
    /// Read the copy of the measuring process's segment that a bridge writes
    /// (`<segment>-ping-far`) instead of the segment itself.
    #[arg(long)]
    pub far: bool,
}

fn pin(cpu: Option<usize>) {
    if let Some(id) = cpu
        && !core_affinity::set_for_current(core_affinity::CoreId { id })
    {
        eprintln!("shm bench: could not pin to CPU {id}; measuring unpinned");
    }
}

/// Median and 99th percentile, in the unit the samples are in.
pub(crate) fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// The process on the other side of a measurement. Every wait for it ends, with an error
/// instead of a hang, once it has exited or after [`ANSWER_TIMEOUT`] without an answer.
trait Counterpart {
    /// An error if the other process is gone.
    fn check_there(&mut self) -> Result<()>;

    /// An error if the other process is gone or `since` is [`ANSWER_TIMEOUT`] ago; `what` is
    /// what was awaited.
    fn keep_waiting(&mut self, since: Instant, what: &str) -> Result<()> {
        self.check_there()?;
        if since.elapsed() >= ANSWER_TIMEOUT {
            return Err(format!("no {what} came within {} s", ANSWER_TIMEOUT.as_secs()).into());
        }
        Ok(())
    }
}

/// A peer's view of the `shm bench` that started it.
struct Parent {
    /// Its process id, which a peer's parent id stops being when it exits.
    id: u32,
}

impl Parent {
    /// `id`, or this process's parent now. (Looking only now would miss a parent that was
    /// killed while this process started: it would look for its new parent instead.)
    fn given_or_current(id: Option<u32>) -> Parent {
        Parent {
            id: id.unwrap_or_else(std::os::unix::process::parent_id),
        }
    }
}

impl Counterpart for Parent {
    fn check_there(&mut self) -> Result<()> {
        if std::os::unix::process::parent_id() != self.id {
            return Err(format!("the measuring process {} is gone", self.id).into());
        }
        Ok(())
    }
}

/// A peer process. Dropping it ends it if it still runs (a measurement failed: it would wait
/// on and keep the caller's output open) and removes the segment it created (which a peer
/// that was killed leaves).
struct Peer {
    child: Child,
    /// The segment the peer creates, which it removes when it finishes but not when killed.
    creates: Option<SegmentLocation>,
}

impl Counterpart for Peer {
    fn check_there(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            return Err(format!("the benchmark peer exited ({status}) before it answered").into());
        }
        Ok(())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(location) = &self.creates {
            let _ = shm_common::remove(location);
        }
    }
}

impl Peer {
    fn spawn(args: &[String], cpu: Option<usize>, piped: bool) -> Result<Peer> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("bench-peer")
            .args(args)
            .args(["--parent", &std::process::id().to_string()]);
        if let Some(cpu) = cpu {
            command.args(["--cpu", &cpu.to_string()]);
        }
        if piped {
            command.stdin(Stdio::piped()).stdout(Stdio::piped());
        } else {
            command.stdout(Stdio::piped());
        }
        Ok(Peer {
            child: command.spawn()?,
            creates: None,
        })
    }

    fn pipes(&mut self) -> Result<(ChildStdin, ChildStdout)> {
        let stdin = self.child.stdin.take().ok_or("the peer has no stdin")?;
        let stdout = self.child.stdout.take().ok_or("the peer has no stdout")?;
        Ok((stdin, stdout))
    }

    /// Waits for the peer and returns the JSON line it printed last.
    fn finish(mut self) -> Result<Value> {
        let mut report = String::new();
        if let Some(stdout) = self.child.stdout.take() {
            for line in BufReader::new(stdout).lines() {
                report = line?;
            }
        }
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("the benchmark peer failed ({status})").into());
        }
        Ok(if report.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&report)?
        })
    }
}

fn segment(base: &str, suffix: &str) -> Result<SegmentLocation> {
    Ok(SegmentLocation::Named(SegmentName::new(format!(
        "{base}-{suffix}"
    ))?))
}

/// Follows the segment at `location` once its writer, `other`, has created it.
fn follow(location: &SegmentLocation, other: &mut dyn Counterpart) -> Result<Follower> {
    let started = Instant::now();
    let mut follower = Follower::new(location.clone());
    loop {
        for event in follower.check(false) {
            if let SegmentEvent::Unusable(err) = event {
                return Err(err.into());
            }
        }
        if follower.reader().is_some() {
            return Ok(follower);
        }
        other.keep_waiting(started, &format!("segment {location}"))?;
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn open_reader(location: &SegmentLocation, other: &mut dyn Counterpart) -> Result<Reader> {
    let mut follower = follow(location, other)?;
    follower
        .take_reader()
        .ok_or_else(|| format!("{location} could not be opened").into())
}

/// Waits for a new struct from `other` and returns it.
fn next_struct(reader: &mut Reader, other: &mut dyn Counterpart) -> Result<TestData> {
    let started = Instant::now();
    loop {
        if reader.has_new(RecordKind::Struct)
            && let Some((data, _)) = reader.latest_struct()?
        {
            return Ok(data);
        }
        // Not only after a wait that timed out: one that wakes for something else again and
        // again (a writer that went away) must not keep this loop from looking.
        if started.elapsed() >= LIVENESS_CHECK {
            other.keep_waiting(started, "message")?;
        }
        reader.wait_for_change(LIVENESS_CHECK);
    }
}

fn split_ns(ns: u64) -> [i32; 2] {
    [(ns >> 32) as i32, ns as u32 as i32]
}

fn join_ns(parts: [i32; 2]) -> u64 {
    (u64::from(parts[0] as u32) << 32) | u64::from(parts[1] as u32)
}

/// Runs one peer role (the hidden `shm bench-peer`).
pub fn peer(args: &PeerArgs) -> Result<()> {
    pin(args.cpu);
    let parent = &mut Parent::given_or_current(args.parent);
    let base = args.segment.clone().unwrap_or_default();
    let ping = if args.far { FAR_PING } else { "ping" };
    match args.role {
        PeerRole::FloorEcho => floor_echo(&segment(&base, "floor")?, parent),
        PeerRole::FloorSeqlockEcho => seqlock_echo(&segment(&base, "seqlock")?, parent),
        PeerRole::FloorSink => floor_sink(&segment(&base, "copy-floor")?, parent, true),
        PeerRole::FloorLoad => floor_sink(&segment(&base, "copy-floor")?, parent, false),
        PeerRole::ShmEcho => {
            let mut reader = open_reader(&segment(&base, ping)?, parent)?;
            if args.busy_poll {
                reader.set_wait_mode(WaitMode::BusyPoll);
            }
            let mut writer = Writer::create(
                &segment(&base, "pong")?,
                CreationMode::CreateOrOpen,
                Capacity::AtLeast(4096),
            )?;
            loop {
                let data = next_struct(&mut reader, parent)?;
                writer.send_struct(&data)?;
                if data.id < 0 {
                    return Ok(());
                }
            }
        }
        PeerRole::ShmSink | PeerRole::ShmLease | PeerRole::ShmFrames => {
            let mut reader = open_reader(&segment(&base, ping)?, parent)?;
            let mut writer = Writer::create(
                &segment(&base, "pong")?,
                CreationMode::CreateOrOpen,
                Capacity::AtLeast(4096),
            )?;
            let mut message = ImageMessage::default();
            let started = Instant::now();
            let mut last_message = started;
            let mut received = 0u64;
            // A single picture is followed from its first bytes (lowest latency), copied out or
            // held in place. A frame stream with two frames in flight is read a complete frame
            // at a time, while the writer fills the other buffer: following the writer there
            // measured about 15% fewer frames, the bytes coming from the writer's cache instead
            // of the shared one.
            let follow = !matches!(args.role, PeerRole::ShmFrames);
            loop {
                // The record, when it was sent (its path says) and when it was in hand.
                let read = match args.role {
                    PeerRole::ShmLease => match reader.lease_next(PICTURE_CHANNEL)? {
                        Some(lease) => {
                            let at = monotonic_ns();
                            let sent = lease.image()?.path.parse::<u64>().unwrap_or(0);
                            Some((*lease.meta(), sent, at))
                        }
                        None => None,
                    },
                    _ => {
                        let read = if follow {
                            reader.read_next_into(&mut message)?
                        } else if reader.has_new(RecordKind::Image) {
                            reader.read_into(&mut message)?
                        } else {
                            None
                        };
                        let sent = message.path.parse::<u64>().unwrap_or(0);
                        read.map(|meta| (meta, sent, monotonic_ns()))
                    }
                };
                if let Some((meta, sent, at)) = read {
                    last_message = Instant::now();
                    received += 1;
                    let mut scores = [0; 10];
                    [scores[0], scores[1]] = split_ns(at.saturating_sub(sent));
                    // Which message this answers: behind a bridge, record numbers are the
                    // far segment's own.
                    [scores[2], scores[3]] = split_ns(sent);
                    writer.send_struct(&TestData {
                        id: meta.sequence as i32,
                        age: 0,
                        scores,
                    })?;
                }
                if reader.has_new(RecordKind::Struct)
                    && let Some((data, _)) = reader.latest_struct()?
                    && data.id < 0
                {
                    break;
                }
                if last_message.elapsed() >= LIVENESS_CHECK {
                    parent.keep_waiting(last_message, "picture")?;
                }
                if follow {
                    reader.wait_for_next(LIVENESS_CHECK);
                } else {
                    reader.wait_for_change(LIVENESS_CHECK);
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            println!("{}", json!({ "received": received, "seconds": seconds }));
            Ok(())
        }
        PeerRole::ShmOps => {
            let mut ops = StructOps::create(&segment(&base, "ops")?)?;
            for id in 0..args.count {
                ops.publish_and_read(id as i32)?;
            }
            Ok(())
        }
        PeerRole::ShmIdle => {
            let mut follower = follow(&segment(&base, "ping")?, parent)?;
            let before = own_cpu_seconds();
            let started = Instant::now();
            let until = started + Duration::from_secs_f64(args.seconds);
            // The Reader app's live loop: 50 ms waits on the segment, the writer's state every
            // `WRITER_CHECK`.
            while Instant::now() < until {
                let woke = follower.wait(Duration::from_millis(50), true);
                let _ = follower.check(woke);
            }
            let cpu = own_cpu_seconds() - before;
            let wall = started.elapsed().as_secs_f64();
            println!("{}", json!({ "cpu_percent": 100.0 * cpu / wall }));
            Ok(())
        }
        PeerRole::StreamEcho | PeerRole::StreamSink => {
            let (mut input, mut output) = peer_stream(args)?;
            if matches!(args.role, PeerRole::StreamEcho) {
                let mut message = [0u8; SMALL];
                while input.read_exact(&mut message).is_ok() {
                    output.write_all(&message)?;
                    output.flush()?;
                }
            } else {
                let mut buffer = vec![0u8; LARGE];
                let mut header = [0u8; 16];
                while input.read_exact(&mut header).is_ok() {
                    let len =
                        usize::try_from(u64::from_le_bytes(header[..8].try_into()?))?.min(LARGE);
                    let sent = u64::from_le_bytes(header[8..].try_into()?);
                    input.read_exact(&mut buffer[..len])?;
                    let latency = monotonic_ns().saturating_sub(sent);
                    output.write_all(&latency.to_le_bytes())?;
                    output.flush()?;
                }
            }
            Ok(())
        }
    }
}

fn peer_stream(args: &PeerArgs) -> Result<Duplex> {
    if let Some(path) = &args.unix {
        let stream = UnixStream::connect(path)?;
        return Ok((Box::new(stream.try_clone()?), Box::new(stream)));
    }
    if let Some(port) = args.tcp {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        return Ok((Box::new(stream.try_clone()?), Box::new(stream)));
    }
    Ok((
        Box::new(std::io::stdin().lock()),
        Box::new(std::io::stdout().lock()),
    ))
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
fn own_cpu_seconds() -> f64 {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / ticks_per_second)
        })
        .unwrap_or(0.0)
}

/// A stream transport the parent talks over.
enum Transport {
    Pipe,
    Unix,
    Tcp,
}

impl Transport {
    /// Its name in the JSON keys and the table.
    fn key(&self) -> &'static str {
        match self {
            Transport::Pipe => "pipe",
            Transport::Unix => "uds",
            Transport::Tcp => "tcp",
        }
    }

    /// Starts a peer in `role` and connects to it.
    fn connect(&self, role: &str, cpu: Option<usize>) -> Result<(Peer, Duplex)> {
        match self {
            Transport::Pipe => {
                let mut peer = Peer::spawn(&[role.to_owned()], cpu, true)?;
                let (stdin, stdout) = peer.pipes()?;
                Ok((peer, (Box::new(stdout), Box::new(stdin))))
            }
            Transport::Unix => {
                let path =
                    std::env::temp_dir().join(format!("shm-bench-{}.sock", std::process::id()));
                let _ = std::fs::remove_file(&path);
                let listener = UnixListener::bind(&path)?;
                let mut peer = Peer::spawn(
                    &[
                        role.to_owned(),
                        "--unix".to_owned(),
                        path.display().to_string(),
                    ],
                    cpu,
                    false,
                )?;
                listener.set_nonblocking(true)?;
                let stream = accept(&mut peer, || listener.accept().map(|(stream, _)| stream));
                let _ = std::fs::remove_file(&path);
                let stream = stream?;
                stream.set_nonblocking(false)?;
                Ok((peer, (Box::new(stream.try_clone()?), Box::new(stream))))
            }
            Transport::Tcp => {
                let listener = TcpListener::bind(("127.0.0.1", 0))?;
                let port = listener.local_addr()?.port();
                let mut peer = Peer::spawn(
                    &[role.to_owned(), "--tcp".to_owned(), port.to_string()],
                    cpu,
                    false,
                )?;
                listener.set_nonblocking(true)?;
                let stream = accept(&mut peer, || listener.accept().map(|(stream, _)| stream))?;
                stream.set_nonblocking(false)?;
                stream.set_nodelay(true)?;
                Ok((peer, (Box::new(stream.try_clone()?), Box::new(stream))))
            }
        }
    }
}

/// The connection `peer` makes, through a non-blocking listener's `try_accept`.
fn accept<S>(peer: &mut Peer, mut try_accept: impl FnMut() -> std::io::Result<S>) -> Result<S> {
    let started = Instant::now();
    loop {
        match try_accept() {
            Ok(stream) => return Ok(stream),
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                peer.keep_waiting(started, "connection")?;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// 48-byte round trips over a stream: (median, p99) in microseconds.
fn stream_rtt(transport: &Transport, messages: usize, cpu: Option<usize>) -> Result<(f64, f64)> {
    let (peer, (mut input, mut output)) = transport.connect("stream-echo", cpu)?;
    let mut message = [7u8; SMALL];
    let mut samples = Vec::with_capacity(messages);
    for i in 0..messages + WARM_UP {
        let started = Instant::now();
        output.write_all(&message)?;
        output.flush()?;
        input.read_exact(&mut message)?;
        if i >= WARM_UP {
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    drop(output);
    drop(input);
    peer.finish()?;
    Ok(percentiles(&mut samples))
}

/// 10 MiB one way over a stream: (median, p99) in milliseconds.
fn stream_large(transport: &Transport, messages: usize, cpu: Option<usize>) -> Result<(f64, f64)> {
    let (peer, (mut input, mut output)) = transport.connect("stream-sink", cpu)?;
    let payload = vec![0x5au8; LARGE];
    let mut samples = Vec::with_capacity(messages);
    let mut ack = [0u8; 8];
    for i in 0..messages + WARM_UP {
        let mut header = [0u8; 16];
        header[..8].copy_from_slice(&(LARGE as u64).to_le_bytes());
        header[8..].copy_from_slice(&monotonic_ns().to_le_bytes());
        output.write_all(&header)?;
        output.write_all(&payload)?;
        output.flush()?;
        input.read_exact(&mut ack)?;
        if i >= WARM_UP {
            samples.push(u64::from_le_bytes(ack) as f64 / 1e6);
        }
    }
    drop(output);
    drop(input);
    peer.finish()?;
    Ok(percentiles(&mut samples))
}

/// The segment suffixes the bridges write: copies of `ping` and `pong` on the far side.
const FAR_PING: &str = "ping-far";
const FAR_PONG: &str = "pong-far";

/// Two `shm-bridge` processes on loopback between a pair's segments, killed (and the segments
/// they write removed) when dropped. The near one publishes `ping` and writes the far one's
/// `pong` into `pong-far`; the far one publishes `pong` and writes `ping` into `ping-far`.
struct Bridges {
    processes: Vec<Child>,
    writes: Vec<SegmentLocation>,
}

impl Bridges {
    fn start(program: &Path, base: &str) -> Result<Bridges> {
        let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
        let endpoint = format!("tcp/127.0.0.1:{port}");
        let name = |suffix: &str| format!("{base}-{suffix}");
        let parent = std::process::id().to_string();
        let mut bridges = Bridges {
            processes: Vec::new(),
            writes: vec![segment(base, FAR_PONG)?, segment(base, FAR_PING)?],
        };
        for [publishes, from, into, side, endpoint] in [
            ["ping", "pong", FAR_PONG, "--listen", &endpoint],
            ["pong", "ping", FAR_PING, "--connect", &endpoint],
        ] {
            let process = Command::new(program)
                .args(["--name", &name(publishes), "--from", &name(from)])
                .args(["--into", &name(into), side, endpoint, "--parent", &parent])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|err| format!("cannot start the bridge {}: {err}", program.display()))?;
            bridges.processes.push(process);
        }
        Ok(bridges)
    }
}

impl Counterpart for Bridges {
    fn check_there(&mut self) -> Result<()> {
        for process in &mut self.processes {
            if let Some(status) = process.try_wait()? {
                return Err(format!("a bridge exited ({status}); it said why above").into());
            }
        }
        Ok(())
    }
}

impl Drop for Bridges {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
        for location in &self.writes {
            let _ = shm_common::remove(location);
        }
    }
}

/// Two processes to wait on at once: an answer needs both.
struct Both<'a>(&'a mut dyn Counterpart, &'a mut dyn Counterpart);

impl Counterpart for Both<'_> {
    fn check_there(&mut self) -> Result<()> {
        self.0.check_there()?;
        self.1.check_there()
    }
}

/// How to get the `shm-bridge` program, which is built in a workspace of its own.
const BUILD_THE_BRIDGE: &str = "build it with `cargo build --release --manifest-path \
    crates/shm-bridge/Cargo.toml` and give its path: --bridge crates/shm-bridge/target/release/shm-bridge";

/// The `shm-bridge` program `--bridge` names: the path given, else the one beside this
/// program, else the first on PATH.
fn bridge_program(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = given {
        if !path.is_file() {
            return Err(format!(
                "--bridge: there is no program at {}; {BUILD_THE_BRIDGE}",
                path.display()
            )
            .into());
        }
        return Ok(path.to_owned());
    }
    let beside = std::env::current_exe()?.with_file_name("shm-bridge");
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("shm-bridge"));
    std::iter::once(beside)
        .chain(on_path)
        .find(|path| path.is_file())
        .ok_or_else(|| {
            format!(
                "--bridge found no shm-bridge program beside shm or on PATH; {BUILD_THE_BRIDGE}"
            )
            .into()
        })
}

/// The measuring side of a shared-memory measurement: it writes `ping`, the peer answers in
/// `pong`; through bridges, the peer reads `ping-far` and the answers come from `pong-far`.
struct ShmPair {
    base: String,
    writer: Writer,
    reader: Option<Reader>,
    /// How the reader of the answers waits.
    wait_mode: WaitMode,
    bridges: Option<Bridges>,
}

impl ShmPair {
    fn new(tag: &str, capacity: usize) -> Result<ShmPair> {
        let base = format!("shm-bench-{}-{tag}", std::process::id());
        let writer = Writer::create(
            &segment(&base, "ping")?,
            CreationMode::CreateNew,
            Capacity::AtLeast(capacity),
        )?;
        Ok(ShmPair {
            base,
            writer,
            reader: None,
            wait_mode: WaitMode::default(),
            bridges: None,
        })
    }

    /// A pair whose messages go through two bridges (`program`) and come back through them.
    fn bridged(tag: &str, capacity: usize, program: &Path) -> Result<ShmPair> {
        let mut pair = ShmPair::new(tag, capacity)?;
        pair.bridges = Some(Bridges::start(program, &pair.base)?);
        Ok(pair)
    }

    /// The peer's next answer.
    fn answer(&mut self, peer: &mut Peer) -> Result<TestData> {
        let answers = if self.bridges.is_some() {
            FAR_PONG
        } else {
            "pong"
        };
        let mut both = None;
        let other: &mut dyn Counterpart = match self.bridges.as_mut() {
            Some(bridges) => both.insert(Both(peer, bridges)),
            None => peer,
        };
        if self.reader.is_none() {
            let mut reader = open_reader(&segment(&self.base, answers)?, other)?;
            reader.set_wait_mode(self.wait_mode);
            self.reader = Some(reader);
        }
        let reader = self.reader.as_mut().ok_or("no reader")?;
        next_struct(reader, other)
    }

    /// Starts the peer process in `role` on this pair's segments.
    fn spawn_peer(&self, role: &str, extra: &[String], cpu: Option<usize>) -> Result<Peer> {
        let mut args = vec![role.to_owned(), "--segment".to_owned(), self.base.clone()];
        args.extend_from_slice(extra);
        if self.bridges.is_some() {
            args.push("--far".to_owned());
        }
        let mut peer = Peer::spawn(&args, cpu, false)?;
        peer.creates = Some(segment(&self.base, "pong")?);
        Ok(peer)
    }

    fn stop(&mut self) -> Result<()> {
        self.writer.send_struct(&TestData {
            id: -1,
            ..TestData::default()
        })?;
        Ok(())
    }
}

/// 48-byte round trips over shared memory, both readers waiting in `mode`, in microseconds.
fn shm_rtt(
    mut pair: ShmPair,
    messages: usize,
    cpu: Option<usize>,
    mode: WaitMode,
) -> Result<Vec<f64>> {
    let extra = if mode == WaitMode::BusyPoll {
        vec!["--busy-poll".to_owned()]
    } else {
        Vec::new()
    };
    let mut peer = pair.spawn_peer("shm-echo", &extra, cpu)?;
    pair.wait_mode = mode;
    let mut samples = Vec::with_capacity(messages);
    let mut data = TestData::default();
    for i in 0..messages + WARM_UP {
        data.id = i as i32;
        let started = Instant::now();
        pair.writer.send_struct(&data)?;
        let echoed = pair.answer(&mut peer)?;
        if echoed.id != data.id {
            return Err(format!("the echo returned {} for {}", echoed.id, data.id).into());
        }
        if i >= WARM_UP {
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    pair.stop()?;
    peer.finish()?;
    Ok(samples)
}

/// Slices each figure and its floors are measured in, taking turns (round trips, 10 MiB one
/// way, frames).
const SLICES: usize = 4;

/// A writer and a reader of one new segment in this one process: a publish and a read of the
/// struct with no other core involved (`shm_work_alone`, and the `shm-ops` role counted
/// under callgrind).
struct StructOps {
    writer: Writer,
    reader: Reader,
    data: TestData,
}

impl StructOps {
    fn create(location: &SegmentLocation) -> Result<StructOps> {
        let writer = Writer::create(location, CreationMode::CreateNew, Capacity::AtLeast(4096))?;
        let reader = Reader::open(location)?;
        Ok(StructOps {
            writer,
            reader,
            data: TestData::default(),
        })
    }

    /// Publishes the struct with `id` and reads it back. Inlined into both loops, so that
    /// the `shm-ops` count stays that of the publish and the read with no call around them.
    #[inline(always)]
    fn publish_and_read(&mut self, id: i32) -> Result<()> {
        self.data.id = id;
        self.writer.send_struct(&self.data)?;
        let read = self.reader.latest_struct()?.map(|(data, _)| data.id);
        if read != Some(id) {
            return Err(format!("read {read:?} after publishing {id}").into());
        }
        Ok(())
    }
}

/// Structs published and read back per timed batch of [`shm_work_alone`]: enough that the two
/// clock readings around a batch are a small part of it.
const WORK_BATCH: usize = 100;

/// One publish and one read of the 48-byte struct in this one process, no other core
/// involved: the work each direction of a round trip does besides moving lines, in
/// microseconds (the mean of each batch of [`WORK_BATCH`]).
fn shm_work_alone(messages: usize) -> Result<Vec<f64>> {
    let location = segment(&format!("shm-bench-{}", std::process::id()), "work")?;
    let mut ops = StructOps::create(&location)?;
    let batches = messages.div_ceil(WORK_BATCH);
    let mut samples = Vec::with_capacity(batches);
    for batch in 0..batches + WARM_UP {
        let started = Instant::now();
        for id in 0..WORK_BATCH {
            ops.publish_and_read(id as i32)?;
        }
        if batch >= WARM_UP {
            samples.push(started.elapsed().as_secs_f64() * 1e6 / WORK_BATCH as f64);
        }
    }
    Ok(samples)
}

/// The word value that ends a floor ping-pong.
const FLOOR_STOP: u64 = u64::MAX;

/// Spins until `word`, which `other` stores, is not `old`.
fn floor_wait(word: &AtomicU64, old: u64, other: &mut dyn Counterpart) -> Result<u64> {
    let started = Instant::now();
    let mut spins = 0u32;
    loop {
        // Acquire: pairs with the other side's Release store.
        let value = word.load(Ordering::Acquire);
        if value != old {
            return Ok(value);
        }
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1 << 16) && started.elapsed() > LIVENESS_CHECK {
            other.keep_waiting(started, "answer on the cache line")?;
        }
        std::hint::spin_loop();
    }
}

/// Opens what `parent` creates at `location` (`what`, for the message if it never does) once it
/// is there.
fn open_created<T>(
    what: &str,
    location: &SegmentLocation,
    parent: &mut Parent,
    open: impl Fn(&SegmentLocation) -> std::result::Result<T, OpenError>,
) -> Result<T> {
    let started = Instant::now();
    loop {
        match open(location) {
            Ok(opened) => return Ok(opened),
            Err(err) => {
                parent
                    .keep_waiting(started, &format!("{what} {location}"))
                    .map_err(|_| err)?;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// The peer's side of the floor: hands every odd value back as the next even one.
fn floor_echo(location: &SegmentLocation, parent: &mut Parent) -> Result<()> {
    let line = open_created("cache line", location, parent, SharedLine::open)?;
    let mut seen = 0;
    loop {
        let value = floor_wait(line.word(), seen, parent)?;
        if value == FLOOR_STOP {
            return Ok(());
        }
        seen = value + 1;
        // Release: nothing to publish but the value; the pair of it is the floor.
        line.word().store(seen, Ordering::Release);
    }
}

/// Round trips of one cache line between two processes, with no protocol, payload, checksum or
/// clock: the floor under the 48-byte round trip, in microseconds.
fn floor_rtt(messages: usize, cpu: Option<usize>) -> Result<Vec<f64>> {
    let base = format!("shm-bench-{}-floor", std::process::id());
    let line = SharedLine::create(&segment(&base, "floor")?)?;
    let mut peer = Peer::spawn(
        &["floor-echo".to_owned(), "--segment".to_owned(), base],
        cpu,
        false,
    )?;
    let mut samples = Vec::with_capacity(messages);
    let mut value = 0u64;
    for i in 0..messages + WARM_UP {
        let started = Instant::now();
        value += 1;
        // Release: pairs with the peer's Acquire load.
        line.word().store(value, Ordering::Release);
        value = floor_wait(line.word(), value, &mut peer)?;
        if i >= WARM_UP {
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    line.word().store(FLOOR_STOP, Ordering::Release);
    peer.finish()?;
    Ok(samples)
}

/// A bare model of one direction of a one-line shm channel, with none of its work (no
/// encoding, checksum, clock, length or kind checks, layers): two buffers, each a descriptor
/// line (sequence word, three metadata words) with an inline line (six words of struct) right
/// after it, written and read in the order of `shm_common`'s slot protocol. Its round trip is
/// the floor under shm's own line traffic: two lines each way where the floor has one.
struct BareSeqlock<'a> {
    /// Each buffer's descriptor and inline line.
    buffers: [[&'a [AtomicU64]; 2]; 2],
}

/// Words of struct in a [`BareSeqlock`] record: 48 bytes.
const SEQLOCK_WORDS: usize = 6;

impl<'a> BareSeqlock<'a> {
    /// The model whose four lines start at line `first` of `line`'s page.
    fn at(line: &'a SharedLine, first: usize) -> Result<BareSeqlock<'a>> {
        let at = |index| line.line(first + index).ok_or("no such line in the page");
        Ok(BareSeqlock {
            buffers: [[at(0)?, at(1)?], [at(2)?, at(3)?]],
        })
    }

    /// Publishes record `number` (from 1), its struct words `value`, `value + 1`, ...
    fn publish(&self, number: u64, value: u64) {
        let [descriptor, inline] = self.buffers[(number & 1) as usize];
        // Release, then a Release fence: the seqlock writer's odd word before the data.
        descriptor[0].store(2 * number - 1, Ordering::Release);
        fence(Ordering::Release);
        for (offset, word) in (0..).zip(&inline[..SEQLOCK_WORDS]) {
            // Relaxed: published by the even word's Release store.
            word.store(value.wrapping_add(offset), Ordering::Relaxed);
        }
        for word in &descriptor[1..4] {
            // Relaxed: as the struct's words.
            word.store(value, Ordering::Relaxed);
        }
        // Release: the record is complete.
        descriptor[0].store(2 * number, Ordering::Release);
    }

    /// Waits for record `number` as a waiting shm reader does (the record's inline line loaded
    /// beside both sequence words, then the words and the metadata, then the re-check) and
    /// returns its first struct word.
    fn wait(&self, number: u64, other: &mut dyn Counterpart) -> Result<u64> {
        let [descriptor, inline] = self.buffers[(number & 1) as usize];
        let started = Instant::now();
        let mut spins = 0u32;
        loop {
            // Relaxed: only the cache line matters.
            std::hint::black_box(inline[0].load(Ordering::Relaxed));
            // Acquire: the loads of the record below cannot move before these.
            let words = self
                .buffers
                .map(|[descriptor, _]| descriptor[0].load(Ordering::Acquire));
            if words[(number & 1) as usize] == 2 * number {
                let mut record = [0u64; SEQLOCK_WORDS + 3];
                let source = inline[..SEQLOCK_WORDS].iter().chain(&descriptor[1..4]);
                for (value, word) in record.iter_mut().zip(source) {
                    // Relaxed: the fence and the re-check below decide whether it counts.
                    *value = word.load(Ordering::Relaxed);
                }
                fence(Ordering::Acquire);
                // Relaxed: ordered after the copy by the fence.
                if descriptor[0].load(Ordering::Relaxed) == 2 * number {
                    return Ok(record[0]);
                }
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1 << 16) && started.elapsed() > LIVENESS_CHECK {
                other.keep_waiting(started, "record on the bare seqlock")?;
            }
            std::hint::spin_loop();
        }
    }
}

/// The lines of the page where each direction's [`BareSeqlock`] starts: apart, as two
/// segments' slots are.
const SEQLOCK_PING: usize = 4;
const SEQLOCK_PONG: usize = 8;

/// The peer's side of the seqlock floor: hands every record back as the next one the other
/// way, until [`FLOOR_STOP`].
fn seqlock_echo(location: &SegmentLocation, parent: &mut Parent) -> Result<()> {
    let line = open_created("bare seqlock", location, parent, SharedLine::open)?;
    let ping = BareSeqlock::at(&line, SEQLOCK_PING)?;
    let pong = BareSeqlock::at(&line, SEQLOCK_PONG)?;
    for number in 1.. {
        let value = ping.wait(number, parent)?;
        if value == FLOOR_STOP {
            break;
        }
        pong.publish(number, value);
    }
    Ok(())
}

/// Round trips of 48-byte records through a [`BareSeqlock`] each way between two processes:
/// the floor under shm's line traffic, in microseconds.
fn seqlock_rtt(messages: usize, cpu: Option<usize>) -> Result<Vec<f64>> {
    let base = format!("shm-bench-{}-seqlock", std::process::id());
    let line = SharedLine::create(&segment(&base, "seqlock")?)?;
    let ping = BareSeqlock::at(&line, SEQLOCK_PING)?;
    let pong = BareSeqlock::at(&line, SEQLOCK_PONG)?;
    let mut peer = Peer::spawn(
        &[
            "floor-seqlock-echo".to_owned(),
            "--segment".to_owned(),
            base,
        ],
        cpu,
        false,
    )?;
    let mut samples = Vec::with_capacity(messages);
    let mut number = 0;
    for i in 0..messages + WARM_UP {
        number += 1;
        let started = Instant::now();
        ping.publish(number, number);
        let echoed = pong.wait(number, &mut peer)?;
        if echoed != number {
            return Err(format!("the bare seqlock returned {echoed} for {number}").into());
        }
        if i >= WARM_UP {
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    ping.publish(number + 1, FLOOR_STOP);
    peer.finish()?;
    Ok(samples)
}

/// The floor's signal words: how far the writer got (round in the high half, bytes in the
/// low), and the last round the reader has whole.
const COPIED: usize = 0;
const RECEIVED: usize = 1;

/// Round and byte count in one word.
fn copied(round: u64, bytes: usize) -> u64 {
    (round << 32) | bytes as u64
}

/// Bytes the one-way floor's writer copies in between two stores of its count (as a segment's
/// writer does).
const FLOOR_PIECE: usize = 64 * 1024;

/// The peer's side of the one-way floor: copies each 10 MiB out of bare shared memory as the
/// writer's count says it is in, then says it has it. With `keep_whole` it keeps a copy of the
/// whole; without, each piece lands over the last at the start of a small buffer: the bytes
/// are loaded once, as a reader checking a record in place loads them.
fn floor_sink(location: &SegmentLocation, parent: &mut Parent, keep_whole: bool) -> Result<()> {
    let shared = open_created("shared bytes", location, parent, SharedBytes::open)?;
    let (Some(copied_word), Some(received)) = (shared.word(COPIED), shared.word(RECEIVED)) else {
        return Err("the shared bytes have no signal words".into());
    };
    let mut out = vec![0u8; if keep_whole { LARGE } else { FLOOR_PIECE }];
    let mut seen = 0;
    for round in 1u64.. {
        let base = (round as usize % 2) * LARGE;
        let mut have = 0;
        while have < LARGE {
            seen = floor_wait(copied_word, seen, parent)?;
            if seen == FLOOR_STOP {
                return Ok(());
            }
            let upto = (seen as u32 as usize).min(LARGE);
            if seen >> 32 != round || upto <= have {
                continue;
            }
            let mut at = have;
            while at < upto {
                let piece = (upto - at).min(FLOOR_PIECE);
                let into = if keep_whole { at } else { 0 };
                if !shared.read(base + at, &mut out[into..into + piece]) {
                    return Err("the shared bytes are smaller than 20 MiB".into());
                }
                at += piece;
            }
            have = upto;
        }
        // Release: nothing to publish but the count itself.
        received.store(round, Ordering::Release);
    }
    Ok(())
}

/// 10 MiB from one process to another through bare shared memory, with no protocol, checksum or
/// clock: the writer copies 64 KiB at a time into one of two buffers in turn (as a segment's
/// writer does) and stores how far it got; the peer (`role`: `floor-sink` keeps a copy,
/// `floor-load` only loads the bytes) takes each piece as soon as the count says it is there.
/// In milliseconds, from the first byte copied in to the peer's word saying it has the last one.
fn floor_one_way(role: &str, messages: usize, cpu: Option<usize>) -> Result<Vec<f64>> {
    let base = format!("shm-bench-{}-floor", std::process::id());
    let shared = SharedBytes::create(&segment(&base, "copy-floor")?, 2 * LARGE)?;
    let (Some(copied_word), Some(received)) = (shared.word(COPIED), shared.word(RECEIVED)) else {
        return Err("the shared bytes have no signal words".into());
    };
    let mut peer = Peer::spawn(&[role.to_owned(), "--segment".to_owned(), base], cpu, false)?;
    let payload = vec![0x5au8; LARGE];
    let mut samples = Vec::with_capacity(messages);
    for round in 1..=(messages + WARM_UP) as u64 {
        let at = (round as usize % 2) * LARGE;
        let started = Instant::now();
        for (index, piece) in payload.chunks(FLOOR_PIECE).enumerate() {
            if !shared.write(at + index * FLOOR_PIECE, piece) {
                return Err("the shared bytes are smaller than 20 MiB".into());
            }
            // Release: the peer's Acquire load of the count sees the bytes before it.
            copied_word.store(
                copied(round, index * FLOOR_PIECE + piece.len()),
                Ordering::Release,
            );
        }
        let mut answer = received.load(Ordering::Acquire);
        while answer != round {
            answer = floor_wait(received, answer, &mut peer)?;
        }
        if round > WARM_UP as u64 {
            samples.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    copied_word.store(FLOOR_STOP, Ordering::Release);
    peer.finish()?;
    Ok(samples)
}

/// 10 MiB one way over shared memory (through bridges if `pair` has them), the peer in `role`
/// (`shm-sink` copies each picture out, `shm-lease` holds it in place), in milliseconds.
fn shm_large(
    mut pair: ShmPair,
    role: &str,
    messages: usize,
    cpu: Option<usize>,
) -> Result<Vec<f64>> {
    let mut peer = pair.spawn_peer(role, &[], cpu)?;
    let payload = vec![0x5au8; LARGE];
    let mut samples = Vec::with_capacity(messages);
    for i in 0..messages + WARM_UP {
        let sent = monotonic_ns();
        pair.writer.send_image(&sent.to_string(), &payload)?;
        let ack = loop {
            let ack = pair.answer(&mut peer)?;
            if join_ns([ack.scores[2], ack.scores[3]]) == sent {
                break ack;
            }
        };
        if i >= WARM_UP {
            samples.push(join_ns([ack.scores[0], ack.scores[1]]) as f64 / 1e6);
        }
    }
    pair.stop()?;
    peer.finish()?;
    Ok(samples)
}

/// 10 MiB pictures published with nobody reading them: the writer's copy into shared memory
/// (and its checksum) alone, the part of a one-way transfer no reader can save, in
/// milliseconds.
fn shm_write_alone(messages: usize) -> Result<Vec<f64>> {
    let mut pair = ShmPair::new("write-alone", LARGE + 4096)?;
    let payload = vec![0x5au8; LARGE];
    let mut samples = Vec::with_capacity(messages);
    for i in 0..messages + WARM_UP {
        let started = Instant::now();
        pair.writer.send_image("/alone", &payload)?;
        if i >= WARM_UP {
            samples.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(samples)
}

/// 1080p RGBA frames streamed over shared memory, the reader checking each (its checksum is
/// verified on every read) and acknowledging it; at most two frames in flight, so the writer
/// never overwrites a frame being read. Returns the frames received and the seconds the peer
/// received them in.
fn shm_frames(seconds: f64, cpu: Option<usize>) -> Result<(f64, f64)> {
    let mut pair = ShmPair::new("frames", FRAME + 4096)?;
    let mut peer = pair.spawn_peer("shm-frames", &[], cpu)?;
    let frame: Vec<u8> = (0..FRAME).map(|i| (i % 251) as u8).collect();
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut acked = 0u64;
    let mut sent = 0u64;
    while Instant::now() < until {
        while sent >= acked + 2 {
            acked = acked.max(pair.answer(&mut peer)?.id as u64);
        }
        pair.writer
            .send_image(&monotonic_ns().to_string(), &frame)?;
        sent += 1;
    }
    pair.stop()?;
    let report = peer.finish()?;
    let received = report["received"].as_f64().unwrap_or(0.0);
    let elapsed = report["seconds"].as_f64().unwrap_or(seconds);
    Ok((received, elapsed))
}

/// A fresh default segment, `rounds` times: medians in milliseconds of creating it (its space
/// reserved and its pages mapped), of the first send of a 3.6 MiB picture into it, and of the
/// send after that.
fn first_sends(rounds: usize) -> Result<[f64; 3]> {
    const PICTURE: usize = 3_600_000;
    let payload = vec![0x3cu8; PICTURE];
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..rounds {
        let location = segment(
            &format!("shm-bench-{}-fresh", std::process::id()),
            &round.to_string(),
        )?;
        let started = Instant::now();
        let mut writer = Writer::create(&location, CreationMode::CreateNew, Capacity::Default)?;
        samples[0].push(started.elapsed().as_secs_f64() * 1e3);
        for sample in &mut samples[1..] {
            let started = Instant::now();
            writer.send_image("/fresh.png", &payload)?;
            sample.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(samples.map(|mut samples| percentiles(&mut samples).0))
}

/// CPU use of a Reader idling in live mode, in percent of one core.
fn idle_reader(seconds: f64, cpu: Option<usize>) -> Result<f64> {
    let pair = ShmPair::new("idle", 4096)?;
    let peer = pair.spawn_peer(
        "shm-idle",
        &["--seconds".to_owned(), seconds.to_string()],
        cpu,
    )?;
    let report = peer.finish()?;
    drop(pair);
    Ok(report["cpu_percent"].as_f64().unwrap_or(f64::NAN))
}

/// memcpy of `bytes` in one thread, in milliseconds.
fn memcpy_floor(bytes: usize, messages: usize) -> Vec<f64> {
    let source = vec![0x5au8; bytes];
    let mut target = vec![0u8; bytes];
    (0..messages + WARM_UP)
        .map(|_| {
            let started = Instant::now();
            target.copy_from_slice(std::hint::black_box(&source));
            std::hint::black_box(&target);
            started.elapsed().as_secs_f64() * 1e3
        })
        .skip(WARM_UP)
        .collect()
}

/// Runs every measurement and prints the table or the JSON object.
pub fn run(args: &BenchArgs) -> Result<()> {
    // Counted before pinning, which narrows what this process may use.
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let (own_cpu, peer_cpu) = match args.cpus {
        Some([own, peer]) => (Some(own), Some(peer)),
        None => (None, None),
    };
    pin(own_cpu);
    // Found before anything is measured: a missing program fails at once.
    let bridge = match &args.bridge {
        Some(given) => Some(bridge_program(given.as_deref())?),
        None => None,
    };
    let progress = |what: &str| {
        if !args.json {
            eprintln!("  measuring {what}…");
        }
    };
    let mut results = serde_json::Map::new();
    let mut table = Vec::new();

    let streams = [Transport::Pipe, Transport::Unix, Transport::Tcp];

    progress("48-byte round trips");
    // Each figure and its floors are measured in slices taken in turn: cross-core traffic here
    // can switch between a fast and a slow state within a run, and a switch then falls on the
    // figures and their floors alike rather than on one of them.
    let slice = args.messages.div_ceil(SLICES);
    let mut sliced: [Vec<f64>; 5] = Default::default();
    for _ in 0..SLICES {
        let [floor, seqlock, shm, busy, work] = &mut sliced;
        floor.extend(floor_rtt(slice, peer_cpu)?);
        seqlock.extend(seqlock_rtt(slice, peer_cpu)?);
        let pair = ShmPair::new("rtt", 4096)?;
        shm.extend(shm_rtt(pair, slice, peer_cpu, WaitMode::SpinThenSleep)?);
        let pair = ShmPair::new("rtt-busy", 4096)?;
        busy.extend(shm_rtt(pair, slice, peer_cpu, WaitMode::BusyPoll)?);
        work.extend(shm_work_alone(slice)?);
    }
    let [floor, seqlock, shm, busy, work] = sliced.map(|mut samples| percentiles(&mut samples));
    // (JSON key, table label, median and p99)
    let mut rtts = vec![
        ("shm", "shm", shm),
        ("shm_busy_poll", "shm, busy-polling", busy),
    ];
    for transport in &streams {
        rtts.push((
            transport.key(),
            transport.key(),
            stream_rtt(transport, args.messages, peer_cpu)?,
        ));
    }
    if let Some(program) = &bridge {
        progress("48-byte round trips through two bridges");
        rtts.push((
            "bridge",
            "shm, two bridges (Zenoh)",
            percentiles(&mut shm_rtt(
                ShmPair::bridged("bridge-rtt", 4096, program)?,
                args.messages,
                peer_cpu,
                WaitMode::SpinThenSleep,
            )?),
        ));
    }
    results.insert("floor_48b_rtt_us".to_owned(), json!(floor.0));
    results.insert("floor_48b_rtt_p99_us".to_owned(), json!(floor.1));
    results.insert("floor_seqlock_48b_rtt_us".to_owned(), json!(seqlock.0));
    results.insert("floor_seqlock_48b_rtt_p99_us".to_owned(), json!(seqlock.1));
    results.insert("shm_48b_work_us".to_owned(), json!(work.0));
    results.insert("shm_48b_work_p99_us".to_owned(), json!(work.1));
    table.push("48-byte struct, round trip        median        p99".to_owned());
    table.push(format!(
        "  one cache line (floor)     {:>9.2} µs {:>9.2} µs",
        floor.0, floor.1
    ));
    table.push(format!(
        "  two lines each way, bare   {:>9.2} µs {:>9.2} µs   ({:.1} x floor: shm's line traffic, none of its work)",
        seqlock.0,
        seqlock.1,
        seqlock.0 / floor.0
    ));
    for (name, label, (median, p99)) in rtts {
        results.insert(format!("{name}_48b_rtt_us"), json!(median));
        results.insert(format!("{name}_48b_rtt_p99_us"), json!(p99));
        table.push(format!(
            "  {label:<24}   {median:>9.2} µs {p99:>9.2} µs   ({:.1} x floor, p99 {:.1} x)",
            median / floor.0,
            p99 / floor.1
        ));
    }
    table.push(format!(
        "  shm's work, one process    {:>9.2} µs {:>9.2} µs   (one publish and one read, no other core)",
        work.0, work.1
    ));
    table.push(format!(
        "  shm's round trip: lines {:.2} + work 2 x {:.2} + the rest {:.2} µs (noticing the record, the calls around)",
        seqlock.0,
        work.0,
        shm.0 - seqlock.0 - 2.0 * work.0
    ));

    progress("10 MiB one way");
    // One thread's copy does not depend on cross-core traffic: measured in one go, its
    // buffers warm. The rest in slices taken in turn, as the round trips.
    let memcpy = percentiles(&mut memcpy_floor(LARGE, args.large_messages)).0;
    let large_slice = args.large_messages.div_ceil(SLICES);
    let mut sliced: [Vec<f64>; 5] = Default::default();
    for _ in 0..SLICES {
        let [load, copy, alone, copied, held] = &mut sliced;
        load.extend(floor_one_way("floor-load", large_slice, peer_cpu)?);
        copy.extend(floor_one_way("floor-sink", large_slice, peer_cpu)?);
        alone.extend(shm_write_alone(large_slice)?);
        let pair = ShmPair::new("shm-sink", LARGE + 4096)?;
        copied.extend(shm_large(pair, "shm-sink", large_slice, peer_cpu)?);
        let pair = ShmPair::new("shm-lease", LARGE + 4096)?;
        held.extend(shm_large(pair, "shm-lease", large_slice, peer_cpu)?);
    }
    let [load_floor, copy_floor, alone, copied, held] =
        sliced.map(|mut samples| percentiles(&mut samples));
    results.insert("memcpy_10mib_ms".to_owned(), json!(memcpy));
    for (name, (median, p99)) in [("load", load_floor), ("copy", copy_floor)] {
        results.insert(format!("floor_10mib_{name}_ms"), json!(median));
        results.insert(format!("floor_10mib_{name}_p99_ms"), json!(p99));
    }
    // Each: its label in the table, its keys (median, p99), its figures and its floor across
    // processes (the one that takes the bytes as it does).
    let mut larges = vec![
        (
            "shm, writer alone".to_owned(),
            ["shm_10mib_write_ms", "shm_10mib_write_p99_ms"].map(str::to_owned),
            alone,
            None,
        ),
        (
            "shm, copied out".to_owned(),
            ["shm_10mib_oneway_ms", "shm_10mib_oneway_p99_ms"].map(str::to_owned),
            copied,
            Some(copy_floor.0),
        ),
        (
            "shm, held in place".to_owned(),
            ["shm_10mib_lease_ms", "shm_10mib_lease_p99_ms"].map(str::to_owned),
            held,
            Some(load_floor.0),
        ),
    ];
    for transport in &streams {
        let key = transport.key();
        larges.push((
            key.to_owned(),
            [
                format!("{key}_10mib_oneway_ms"),
                format!("{key}_10mib_oneway_p99_ms"),
            ],
            stream_large(transport, args.large_messages, peer_cpu)?,
            Some(copy_floor.0),
        ));
    }
    if let Some(program) = &bridge {
        progress("10 MiB one way through two bridges");
        larges.push((
            "shm, two bridges (Zenoh)".to_owned(),
            ["bridge_10mib_oneway_ms", "bridge_10mib_oneway_p99_ms"].map(str::to_owned),
            percentiles(&mut shm_large(
                ShmPair::bridged("bridge-large", LARGE + 4096, program)?,
                "shm-sink",
                args.large_messages,
                peer_cpu,
            )?),
            Some(copy_floor.0),
        ));
    }
    table.push("10 MiB picture, one way           median        p99".to_owned());
    table.push(format!("  memcpy (one copy, floor)   {memcpy:>9.3} ms"));
    for (label, (median, p99)) in [
        ("across, loaded (floor)", load_floor),
        ("across, copied (floor)", copy_floor),
    ] {
        table.push(format!(
            "  {label:<24}   {median:>9.3} ms {p99:>9.3} ms   ({:.2} x memcpy)",
            median / memcpy
        ));
    }
    for (label, [median_key, p99_key], (median, p99), floor) in larges {
        results.insert(median_key, json!(median));
        results.insert(p99_key, json!(p99));
        let across = floor.map_or_else(String::new, |floor| {
            format!(", {:.2} x its floor", median / floor)
        });
        table.push(format!(
            "  {label:<24}   {median:>9.3} ms {p99:>9.3} ms   ({:.2} x memcpy{across})",
            median / memcpy
        ));
    }

    progress("first sends into fresh segments");
    let [create, first, later] = first_sends(10)?;
    results.insert("shm_create_ms".to_owned(), json!(create));
    results.insert("shm_first_send_3mib_ms".to_owned(), json!(first));
    results.insert("shm_later_send_3mib_ms".to_owned(), json!(later));
    table.push(format!(
        "3.6 MiB picture into a new segment  creating it {create:.2} ms, first send {first:.2} ms, the next {later:.2} ms"
    ));

    progress("1080p frames");
    // In slices taken in turn with the copied floor's 10 MiB, as the figures above.
    let (mut received, mut seconds) = (0.0, 0.0);
    let mut frame_floor = Vec::new();
    for _ in 0..SLICES {
        frame_floor.extend(floor_one_way("floor-sink", large_slice, peer_cpu)?);
        let (frames, elapsed) = shm_frames(args.frame_seconds / SLICES as f64, peer_cpu)?;
        received += frames;
        seconds += elapsed;
    }
    let fps = received / seconds;
    // The frames one thread could memcpy in a second: the bandwidth floor.
    let memcpy_fps = 1e3 / percentiles(&mut memcpy_floor(FRAME, args.large_messages)).0;
    // The frames the bare copy across processes carries in a second at its 10 MiB rate: the
    // floor for frames copied out by another process.
    let frame_floor = percentiles(&mut frame_floor).0;
    let floor_fps = 1e3 / (frame_floor * FRAME as f64 / LARGE as f64);
    results.insert("shm_1080p_fps".to_owned(), json!(fps));
    results.insert("memcpy_1080p_fps".to_owned(), json!(memcpy_fps));
    results.insert("floor_1080p_fps".to_owned(), json!(floor_fps));
    table.push(format!(
        "1920x1080 RGBA frames over shm     {fps:>9.0} frames/s   ({:.2} x memcpy's {memcpy_fps:.0}, {:.2} x its floor's {floor_fps:.0})",
        fps / memcpy_fps,
        fps / floor_fps
    ));

    progress("an idle Reader");
    let idle = idle_reader(args.idle_seconds, peer_cpu)?;
    results.insert("idle_reader_cpu_percent".to_owned(), json!(idle));
    table.push(format!(
        "idle Reader in live mode           {idle:>9.3} % of one core"
    ));

    if args.json {
        println!("{}", Value::Object(results));
    } else {
        println!(
            "shm bench: {cpus} CPUs, {} round trips, {} x 10 MiB, frames for {} s, idle for {} s{}",
            args.messages,
            args.large_messages,
            args.frame_seconds,
            args.idle_seconds,
            args.cpus
                .as_ref()
                .map_or_else(String::new, |cpus| format!(", pinned to CPUs {cpus:?}"))
        );
        for line in table {
            println!("{line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use shm_testkit::TestSegment;

    /// A waiter that never gives up (the test's own timeout ends a hang).
    struct Patient;

    impl Counterpart for Patient {
        fn check_there(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_bare_seqlock_hands_every_record_over_whole_and_in_order() {
        let segment = TestSegment::new("bare-seqlock");
        let line = SharedLine::create(&segment.location).unwrap();
        let ping = BareSeqlock::at(&line, SEQLOCK_PING).unwrap();
        let pong = BareSeqlock::at(&line, SEQLOCK_PONG).unwrap();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for number in 1..=10_000 {
                    let value = ping.wait(number, &mut Patient).unwrap();
                    pong.publish(number, value * 3);
                }
            });
            for number in 1..=10_000 {
                ping.publish(number, number);
                assert_eq!(pong.wait(number, &mut Patient).unwrap(), number * 3);
                let [descriptor, inline] = pong.buffers[(number & 1) as usize];
                let words: Vec<u64> = inline[..SEQLOCK_WORDS]
                    .iter()
                    .map(|word| word.load(Ordering::Relaxed))
                    .collect();
                let expected: Vec<u64> = (0..SEQLOCK_WORDS as u64)
                    .map(|offset| number * 3 + offset)
                    .collect();
                assert_eq!(words, expected, "record {number}");
                assert_eq!(descriptor[0].load(Ordering::Relaxed), 2 * number);
            }
        });
        assert!(BareSeqlock::at(&line, SharedLine::LINES - 3).is_err());
    }
}
