//! `shm-bridge`: carries shared-memory segments from one machine to another over Zenoh.
//!
//! `shm-bridge --name SEG --listen tcp/0.0.0.0:7447` publishes every new record of the local
//! segment SEG (pictures, the struct, frames, any program's typed channels) on the key
//! expressions `shm-exchange/SEG/<channel>`, and the segment's channels on
//! `shm-exchange/SEG/@channels` once a second. On the other machine, `shm-bridge --into SEG
//! --connect tcp/10.0.0.2:7447` becomes the writer of its local segment SEG (created with the
//! same channels) and publishes into it what arrives, so the Reader app, `shm watch` and any
//! library reader there work unchanged. Both directions may run in one bridge; `--from NAME`
//! takes the remote segment NAME into a local segment of another name.
//!
//! Records keep their metadata: kind, number, checksum (checked on arrival: a record that
//! fails it is reported and dropped, as is any malformed or oversized message) and the first
//! writer's start time, so readers there see transfer times that include the network. A slow
//! link skips to the newest record: the sender sends one record of a channel at a time, the
//! newest when the link has taken the last (the segment is the queue, one deep), and the
//! receiver keeps the newest message of each channel until it is written. Zenoh
//! fragments large records, reconnects dropped links by itself, and with a `--config` file
//! offers TLS and user/password authentication (see the README); without one, a bridge
//! listens only where `--listen` says. The channel announcements say whether the source's
//! writer is active, closed or crashed, and the receiving side's writer follows suit.

mod inbox;
mod wire;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use shm_common::{
    ChannelSpec, CreationMode, LayoutError, MAX_CAPACITY, MAX_CHANNELS, OpenError, Reader,
    RecordKind, SegmentLocation, SegmentName, Writer, WriterStatus, monotonic_ns,
};
use zenoh::Wait;
use zenoh::handlers::RingChannel;
use zenoh::qos::CongestionControl;

use inbox::{Inbox, Put};
use wire::{Announcement, Header, Record, SourceWriter, Topic};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Keys whose newest message may wait to be written into the local segment at once: every
/// channel's records, the announcements and the resync requests.
const INBOX_KEYS: usize = MAX_CHANNELS + 2;
/// How often the channels of a published segment are announced (late receivers learn them).
const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);

/// Carries shared-memory segments between machines over Zenoh.
#[derive(Parser, Debug)]
#[command(name = "shm-bridge", version)]
struct Args {
    /// Publish the local segment NAME's records.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Write the records of a remote segment into the local segment NAME, as its writer.
    #[arg(long, value_name = "NAME")]
    into: Option<String>,
    /// The remote segment `--into` takes (default: the same name).
    #[arg(long, value_name = "NAME")]
    from: Option<String>,
    /// Listen for other bridges on this Zenoh endpoint, e.g. `tcp/0.0.0.0:7447` (repeatable).
    #[arg(long, value_name = "ENDPOINT")]
    listen: Vec<String>,
    /// Connect to another bridge's Zenoh endpoint, e.g. `tcp/10.0.0.2:7447` (repeatable).
    #[arg(long, value_name = "ENDPOINT")]
    connect: Vec<String>,
    /// A Zenoh configuration file (JSON5) for everything else: TLS, authentication, routers.
    /// Without one, bridges find each other only through the endpoints given.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The largest record accepted from the network, in bytes.
    #[arg(long, default_value_t = MAX_CAPACITY)]
    max_bytes: usize,
    /// Leave the `--into` segment and its records in place when the bridge exits.
    #[arg(long)]
    persist: bool,
    /// End (cleanly) once PID, the process that started this bridge, has exited: for bridges
    /// another program starts that must not outlive it, such as `shm bench --bridge`'s.
    #[arg(long, value_name = "PID")]
    parent: Option<u32>,
}

fn main() {
    let args = Args::parse();
    // RUST_LOG (e.g. `RUST_LOG=zenoh=debug`) shows what Zenoh does: why a link fails, say.
    zenoh::try_init_log_from_env();
    if let Err(err) = run(&args) {
        eprintln!("shm-bridge: {err}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<()> {
    if args.name.is_none() && args.into.is_none() {
        return Err("say what to bridge: --name SEG publishes a local segment, --into SEG writes a remote one into a local segment".into());
    }
    // SIGINT, SIGTERM and SIGHUP end the bridge cleanly: its segment's writer closes.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))?;
    if let Some(parent) = args.parent {
        stop_when_parent_exits(parent, Arc::clone(&stop))?;
    }
    let session = zenoh::open(config(args)?)
        .wait()
        .map_err(|err| format!("Zenoh could not start: {err}"))?;
    let mut threads = Vec::new();
    if let Some(name) = &args.name {
        let (session, stop, name) = (session.clone(), Arc::clone(&stop), name.clone());
        threads.push(std::thread::spawn(move || publish(&session, &name, &stop)));
    }
    if let Some(into) = &args.into {
        let from = args.from.clone().unwrap_or_else(|| into.clone());
        let (session, stop, into) = (session.clone(), Arc::clone(&stop), into.clone());
        let (limit, persist) = (args.max_bytes, args.persist);
        threads.push(std::thread::spawn(move || {
            receive(&session, &from, &into, limit, persist, &stop)
        }));
    }
    let mut outcome = Ok(());
    for thread in threads {
        let ended = thread
            .join()
            .map_err(|_| "a bridge thread panicked".to_owned())?;
        if let Err(err) = ended {
            stop.store(true, Ordering::Relaxed);
            outcome = Err(err);
        }
    }
    outcome
}

/// Sets `stop` once `parent`, the process that started this one, has exited (given by its id:
/// one that died before this process looked would otherwise go unnoticed).
#[cfg(unix)]
fn stop_when_parent_exits(parent: u32, stop: Arc<AtomicBool>) -> Result<()> {
    std::thread::spawn(move || {
        // An orphan's parent id becomes another process's (init's or a subreaper's).
        while std::os::unix::process::parent_id() == parent {
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
    });
    Ok(())
}

#[cfg(not(unix))]
fn stop_when_parent_exits(_parent: u32, _stop: Arc<AtomicBool>) -> Result<()> {
    Err("--parent is only available on Unix".into())
}

/// Zenoh's configuration: the file given, or peers that meet only at the endpoints given.
fn config(args: &Args) -> Result<zenoh::Config> {
    let mut config = match &args.config {
        Some(path) => zenoh::Config::from_file(path)
            .map_err(|err| format!("cannot use Zenoh config '{}': {err}", path.display()))?,
        None => {
            let mut config = zenoh::Config::default();
            config.insert_json5("scouting/multicast/enabled", "false")?;
            config
        }
    };
    let quoted = |endpoints: &[String]| {
        let quoted: Vec<String> = endpoints.iter().map(|e| format!("{e:?}")).collect();
        format!("[{}]", quoted.join(","))
    };
    // Without a config file a bridge listens only where --listen says: Zenoh's default (any
    // port, every interface) would let anyone who finds the port in.
    if !args.listen.is_empty() || args.config.is_none() {
        config
            .insert_json5("listen/endpoints", &quoted(&args.listen))
            .map_err(|err| format!("cannot listen on {:?}: {err}", args.listen))?;
    }
    if !args.connect.is_empty() {
        config
            .insert_json5("connect/endpoints", &quoted(&args.connect))
            .map_err(|err| format!("cannot connect to {:?}: {err}", args.connect))?;
    }
    Ok(config)
}

/// A named local segment.
fn named(name: &str) -> Result<SegmentLocation> {
    Ok(SegmentLocation::Named(SegmentName::new(name)?))
}

/// Nanoseconds between the Unix epoch and this machine's monotonic clock's zero: records travel
/// with Unix times, since monotonic clocks of two machines have nothing in common.
fn unix_minus_monotonic() -> i128 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as i128);
    unix - i128::from(monotonic_ns())
}

fn to_unix(monotonic: u64) -> u64 {
    u64::try_from(i128::from(monotonic) + unix_minus_monotonic()).unwrap_or(0)
}

fn to_monotonic(unix: u64) -> u64 {
    u64::try_from(i128::from(unix) - unix_minus_monotonic()).unwrap_or(0)
}

/// A number for this run of the bridge, different from the last one's: the time it started.
fn this_run() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    now ^ u64::from(std::process::id()).rotate_left(48)
}

/// Publishes the local segment `name` until `stop`: every new record, the channels every
/// second.
fn publish(session: &zenoh::Session, name: &str, stop: &AtomicBool) -> Result<()> {
    let location = named(name)?;
    // A receiver that starts (or starts over) asks for the latest record of every channel.
    let resync = session
        .declare_subscriber(wire::resync_key(name))
        .with(RingChannel::new(1))
        .wait()?;
    let run = this_run();
    let mut reader = None;
    let mut announced = Instant::now() - ANNOUNCE_EVERY;
    while !stop.load(Ordering::Relaxed) {
        let Some(reader) = open_reader(&location, &mut reader)? else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        reader.wait_for_change(Duration::from_millis(100));
        let resend_all = resync.try_recv()?.is_some();
        let channels = reader.channels();
        if announced.elapsed() >= ANNOUNCE_EVERY {
            let announcement = Announcement {
                instance: reader.instance_id(),
                run,
                writer: match reader.writer_status() {
                    WriterStatus::Active { .. } | WriterStatus::Replaced => SourceWriter::Active,
                    WriterStatus::Crashed { .. } => SourceWriter::Crashed,
                    WriterStatus::Closed => SourceWriter::Closed,
                },
                channels: channels.clone(),
            };
            session
                .put(wire::channels_key(name), announcement.encode())
                .wait()?;
            announced = Instant::now();
        }
        for channel in &channels {
            let channel_name = channel.name.as_str();
            if !resend_all && !reader.channel_has_new(channel_name) {
                continue;
            }
            let instance = reader.instance_id();
            let Some(held) = reader.hold(channel_name)? else {
                continue;
            };
            let meta = *held.meta();
            let header = Header {
                kind: channel.kind,
                instance,
                sequence: meta.sequence,
                checksum: meta.checksum,
                started_unix_ns: to_unix(meta.started_ns),
                published_unix_ns: to_unix(meta.published_ns),
            };
            // Held in place and copied once, checked on the way, straight into the message.
            let message = header.message(held.len(), |out| held.copy_into(out).map(drop))?;
            // Waits while the link is busy rather than dropping: what waits meanwhile is only
            // this record, and one dropped might be the last, which the other side would then
            // never see. A link stuck for 5 s is closed by Zenoh, which then reconnects.
            session
                .put(wire::record_key(name, channel_name), message)
                .congestion_control(CongestionControl::Block)
                .wait()?;
        }
    }
    Ok(())
}

/// The reader of `location`, opened (again) if there is none or the writer re-created the
/// segment; `None` while no writer created it.
fn open_reader<'r>(
    location: &SegmentLocation,
    reader: &'r mut Option<Reader>,
) -> Result<Option<&'r mut Reader>> {
    if let Some(open) = reader {
        if !matches!(open.writer_status(), WriterStatus::Active { .. }) {
            match open.reopen_if_replaced() {
                Ok(_) | Err(OpenError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        return Ok(reader.as_mut());
    }
    match Reader::open(location) {
        Ok(open) => {
            *reader = Some(open);
            Ok(reader.as_mut())
        }
        // Not there yet, or its writer still setting it up.
        Err(
            OpenError::NotFound { .. }
            | OpenError::Invalid {
                reason: LayoutError::Uninitialised,
                ..
            },
        ) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The local segment a bridge writes: its writer, and the remote instance it mirrors.
struct Mirror {
    writer: Writer,
    channels: Vec<ChannelSpec>,
    /// Per channel, the remote (instance, record number) last written.
    written: HashMap<String, (u64, u64)>,
}

impl Mirror {
    /// Closes the local writer, leaving the segment and its records in place (for readers, and
    /// for the next writer to carry over).
    fn let_go(self) {
        let mut writer = self.writer;
        writer.set_persist(true);
    }
}

/// Writes what arrives for the remote segment `from` into the local segment `into` until
/// `stop`.
fn receive(
    session: &zenoh::Session,
    from: &str,
    into: &str,
    limit: usize,
    persist: bool,
    stop: &AtomicBool,
) -> Result<()> {
    let location = named(into)?;
    let inbox = Arc::new(Inbox::new(INBOX_KEYS));
    let arrivals = Arc::clone(&inbox);
    // Undeclared when dropped, at the end of this function.
    let _subscriber = session
        .declare_subscriber(wire::segment_keys(from))
        .callback(move |sample| {
            let key = sample.key_expr().as_str().to_owned();
            if arrivals.put(key.clone(), sample) == Put::Full {
                eprintln!(
                    "shm-bridge: dropped a message on {key}: messages of {INBOX_KEYS} other keys \
                     wait already, more than a segment has channels"
                );
            }
        })
        .wait()?;
    let mut mirror: Option<Mirror> = None;
    // The last announcement's sending bridge run, and when it arrived.
    let mut last_announcement = None;
    while !stop.load(Ordering::Relaxed) {
        let Some((key, sample)) = inbox.take(Duration::from_millis(200)) else {
            continue;
        };
        let channel = match Topic::of(&key, from) {
            Some(Topic::Record(channel)) => channel.to_owned(),
            Some(Topic::Resync) => continue,
            None => {
                eprintln!(
                    "shm-bridge: ignored a message on {key}, which is not a key of this bridge"
                );
                continue;
            }
            Some(Topic::Channels) => {
                match Announcement::decode(&sample.payload().to_bytes()) {
                    Ok(announcement) if announcement.writer != SourceWriter::Active => {
                        // The source's writer closed or died: so does this side's, leaving the
                        // records in place; it comes back with the source's next writer.
                        if let Some(old) = mirror.take() {
                            if announcement.writer == SourceWriter::Crashed {
                                old.writer.abandon();
                            } else {
                                old.let_go();
                            }
                        }
                        last_announcement = Some((announcement.run, Instant::now()));
                    }
                    Ok(announcement) => {
                        let changed = mirror
                            .as_ref()
                            .is_none_or(|mirror| mirror.channels != announcement.channels);
                        if changed {
                            let channels = announcement.channels;
                            let old = mirror.take();
                            mirror = Some(start_mirror(&location, channels, persist, old)?);
                        }
                        // A new mirror, a new sending bridge, or a link that was down: what was
                        // published meanwhile never arrived, so the latest of each is asked for.
                        let missed = changed
                            || last_announcement.is_none_or(|(run, at): (u64, Instant)| {
                                run != announcement.run || at.elapsed() > 2 * ANNOUNCE_EVERY
                            });
                        last_announcement = Some((announcement.run, Instant::now()));
                        if missed {
                            session.put(wire::resync_key(from), Vec::new()).wait()?;
                        }
                    }
                    Err(err) => {
                        eprintln!("shm-bridge: dropped the channel list from {key}: it {err}");
                    }
                }
                continue;
            }
        };
        let payload = sample.payload().to_bytes();
        let Some(mirror) = mirror.as_mut() else {
            // Its channels are announced within a second; the next record will do.
            continue;
        };
        match Record::decode(&payload, limit) {
            Ok(record) => write_record(mirror, &channel, record),
            Err(err) => {
                eprintln!("shm-bridge: dropped a record of `{channel}` from {key}: it {err}")
            }
        }
    }
    Ok(())
}

/// Becomes the writer of the local segment at `location` with `channels` (re-creating it if it
/// has others), after `old`, the mirror of other channels, let go of it.
fn start_mirror(
    location: &SegmentLocation,
    channels: Vec<ChannelSpec>,
    persist: bool,
    old: Option<Mirror>,
) -> Result<Mirror> {
    if let Some(old) = old {
        old.let_go();
    }
    let mut writer = Writer::create_with(location, CreationMode::CreateOrOpen, channels.clone())?;
    writer.set_persist(persist);
    Ok(Mirror {
        writer,
        channels,
        written: HashMap::new(),
    })
}

/// Publishes a record that arrived into the local segment, growing it if a picture or frame
/// needs more room; reports (and drops) one that does not fit its channel.
fn write_record(mirror: &mut Mirror, channel: &str, record: Record<'_>) {
    let header = record.header;
    let origin = (header.instance, header.sequence);
    if mirror.written.get(channel) == Some(&origin) {
        return;
    }
    let spec = mirror
        .channels
        .iter()
        .find(|spec| spec.name.as_str() == channel);
    let expected = spec.map(|spec| spec.kind);
    if expected != Some(header.kind) {
        eprintln!(
            "shm-bridge: dropped a {} for channel `{channel}`, which {}",
            header.kind.noun(),
            expected.map_or("the segment does not have".to_owned(), |kind| format!(
                "holds {}s",
                kind.noun()
            ))
        );
        return;
    }
    let capacity = spec.map_or(0, |spec| spec.capacity);
    if let Err(err) = record.check(capacity) {
        eprintln!("shm-bridge: dropped a record of `{channel}`: it {err}");
        return;
    }
    let writer = &mut mirror.writer;
    let demo = matches!(header.kind, RecordKind::Image | RecordKind::Frame);
    if demo && !writer.fits(header.kind, record.bytes.len()) {
        let grown = writer
            .plan_growth(header.kind, record.bytes.len())
            .and_then(|growth| writer.grow(&growth));
        if let Err(err) = grown {
            eprintln!("shm-bridge: dropped a {}: {err}", header.kind.noun());
            return;
        }
    }
    let started = to_monotonic(header.started_unix_ns);
    match writer.publish_raw_started(channel, record.bytes, Some(started)) {
        Ok(_) => {
            mirror.written.insert(channel.to_owned(), origin);
        }
        Err(err) => eprintln!("shm-bridge: dropped a record of `{channel}`: {err}"),
    }
}
