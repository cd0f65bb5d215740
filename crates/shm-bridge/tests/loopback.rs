//! Two real bridges on loopback carry one segment's records into another: pictures (over
//! 10 MiB too, and corpus pictures), the struct and frames, whole; the source writer closing,
//! crashing and coming back shows on the other side; either bridge killed and restarted
//! carries on; a second bridge into the same segment is refused; garbage from the network is
//! dropped. As root: two hosts in network namespaces, the link between them cut and healed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shm_common::{
    Capacity, CreationMode, FrameHeader, ImageMessage, PixelFormat, Reader, TestData, Writer,
    WriterStatus,
};
use shm_testkit::{Corpus, Expect, TestSegment};
use zenoh::Wait;

/// A bridge process, killed when dropped.
struct Bridge(Child);

impl Bridge {
    fn start(args: &[&str]) -> Bridge {
        Bridge::run(Command::new(env!("CARGO_BIN_EXE_shm-bridge")).args(args))
    }

    /// Starts it in the network namespace `namespace` (`ip netns exec` execs it: the child is
    /// the bridge itself).
    fn start_in(namespace: &str, args: &[&str]) -> Bridge {
        Bridge::run(
            Command::new("ip")
                .args(["netns", "exec", namespace, env!("CARGO_BIN_EXE_shm-bridge")])
                .args(args),
        )
    }

    fn run(command: &mut Command) -> Bridge {
        Bridge(command.stderr(Stdio::piped()).spawn().unwrap())
    }

    /// Whether it still runs.
    fn running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }

    /// Kills it (SIGKILL) and returns what it wrote on stderr.
    fn kill(&mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        stderr
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The outbound bridge of `from`, listening on `port`.
fn outbound(from: &TestSegment, port: u16) -> Bridge {
    let endpoint = format!("tcp/127.0.0.1:{port}");
    Bridge::start(&["--name", &from.name, "--listen", &endpoint])
}

/// The inbound bridge writing `from` into `into`, connecting to `port`, with `extra` arguments.
fn inbound(from: &TestSegment, into: &TestSegment, port: u16, extra: &[&str]) -> Bridge {
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let mut args = vec![
        "--from",
        &from.name,
        "--into",
        &into.name,
        "--connect",
        &endpoint,
    ];
    args.extend_from_slice(extra);
    Bridge::start(&args)
}

/// A source segment, its copy, and the two bridges between them on loopback. The bridges come
/// first: they end before the segments are removed.
struct Bridged {
    out: Bridge,
    inside: Bridge,
    from: TestSegment,
    into: TestSegment,
    port: u16,
}

impl Bridged {
    /// The segments `<tag>-from` (its writer, returned, created first with room for
    /// `capacity` bytes) and `<tag>-into`, and the bridges from one into the other.
    fn new(tag: &str, capacity: usize) -> (Writer, Bridged) {
        let from = TestSegment::new(&format!("{tag}-from"));
        let into = TestSegment::new(&format!("{tag}-into"));
        let port = free_port();
        let writer = Writer::create(
            &from.location,
            CreationMode::CreateNew,
            Capacity::AtLeast(capacity),
        )
        .unwrap();
        let out = outbound(&from, port);
        let inside = inbound(&from, &into, port, &[]);
        let bridged = Bridged {
            out,
            inside,
            from,
            into,
            port,
        };
        (writer, bridged)
    }

    /// Waits until the copy's latest picture is `path`; `what` names it if it never comes.
    fn arrives(&self, what: &str, path: &str) -> (ImageMessage, shm_common::RecordMeta) {
        wait_for(&self.into, what, |reader| image_named(reader, path))
    }
}

/// Waits (up to 60 s) until `arrived` finds what it waits for in a reader of `segment`.
fn wait_for<T>(
    segment: &TestSegment,
    what: &str,
    mut arrived: impl FnMut(&mut Reader) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut reader: Option<Reader> = None;
    loop {
        assert!(Instant::now() < deadline, "{what} never arrived");
        if reader.is_none() {
            reader = Reader::open(&segment.location).ok();
        }
        if let Some(open) = reader.as_mut() {
            let _ = open.reopen_if_replaced();
            if let Some(found) = arrived(open) {
                return found;
            }
            open.wait_for_change(Duration::from_millis(50));
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn picture(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + i / 253) as u8 ^ seed).collect()
}

fn writer(segment: &TestSegment) -> Writer {
    Writer::create(
        &segment.location,
        CreationMode::CreateNew,
        Capacity::AtLeast(1 << 20),
    )
    .unwrap()
}

fn image_named(reader: &mut Reader, path: &str) -> Option<(ImageMessage, shm_common::RecordMeta)> {
    reader
        .latest_image()
        .ok()
        .flatten()
        .filter(|(image, _)| image.path == path)
}

#[test]
fn pictures_the_struct_and_frames_cross_the_bridge_whole() {
    let (mut writer, bridged) = Bridged::new("bridge", 1 << 20);
    let into = &bridged.into;

    let bytes = picture(700_001, 1);
    let sent = writer.send_image("/first.png", &bytes).unwrap();
    let (image, meta) = bridged.arrives("the picture", "/first.png");
    assert!(image.bytes == bytes, "the picture changed on the way");
    assert_eq!(meta.checksum, sent.checksum);
    // The first writer's start, carried over: transfer times include the bridge.
    let shift = meta.started_ns.abs_diff(sent.started_ns);
    assert!(shift < 50_000_000, "start time moved by {shift} ns");

    let data = TestData {
        id: 42,
        ..TestData::default()
    };
    writer.send_struct(&data).unwrap();
    let arrived = wait_for(into, "the struct", |reader| {
        reader
            .latest_struct()
            .ok()
            .flatten()
            .filter(|(d, _)| d.id == 42)
    });
    assert_eq!(arrived.0, data);

    // Over 10 MiB: both segments grow.
    let large = picture(12 << 20, 2);
    let len = ImageMessage::framed_len("/large.bin", large.len());
    let growth = writer
        .plan_growth(shm_common::RecordKind::Image, len)
        .unwrap();
    writer.grow(&growth).unwrap();
    writer.send_image("/large.bin", &large).unwrap();
    let (image, _) = bridged.arrives("the 12 MiB picture", "/large.bin");
    assert!(
        image.bytes == large,
        "the 12 MiB picture changed on the way"
    );

    // Frames: the first one adds the frame channel on both sides.
    let header = |number| FrameHeader {
        width: 64,
        height: 32,
        format: PixelFormat::Rgba8,
        stride: 256,
        number,
    };
    let pixels = picture(256 * 32, 3);
    let len = shm_common::FrameMessage::framed_len(pixels.len());
    let growth = writer
        .plan_growth(shm_common::RecordKind::Frame, len)
        .unwrap();
    writer.grow(&growth).unwrap();
    for number in 0..30 {
        writer.send_frame(&header(number), &pixels).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let frame = wait_for(into, "the last frame", |reader| {
        reader
            .latest_frame()
            .ok()
            .flatten()
            .filter(|(frame, _)| frame.number == 29)
    });
    assert!(frame.0.pixels == pixels);
}

#[test]
fn corpus_pictures_cross_the_bridge_byte_identical() {
    let corpus = Corpus::best("corpus_pictures_cross_the_bridge_byte_identical");
    let mut files: Vec<_> = corpus
        .entries
        .iter()
        .map(|entry| (std::fs::read(&entry.path).unwrap(), entry))
        .collect();
    // The largest few, of the pictures that decode and of those that must be refused: a bridge
    // carries bytes, whatever they hold.
    files.sort_by_key(|(bytes, _)| std::cmp::Reverse(bytes.len()));
    let chosen = files
        .iter()
        .filter(|(_, entry)| entry.expect == Expect::Ok)
        .take(4)
        .chain(
            files
                .iter()
                .filter(|(_, entry)| entry.expect == Expect::Error)
                .take(2),
        );
    let (mut writer, bridged) = Bridged::new("bridge-corpus", 1 << 20);
    let mut carried = 0;
    for (bytes, entry) in chosen {
        let path = format!("/corpus/{}", entry.relative);
        writer.send_image(&path, bytes).unwrap();
        let (image, _) = bridged.arrives(&path, &path);
        assert!(&image.bytes == bytes, "{path} changed on the way");
        carried += 1;
    }
    assert_eq!(carried, 6, "the corpus has too few pictures");
}

#[test]
fn a_burst_of_large_pictures_ends_with_the_newest_on_the_other_side() {
    let (mut writer, bridged) = Bridged::new("bridge-burst", 5 << 20);
    writer.send_image("/first.png", b"first").unwrap();
    bridged.arrives("the first picture", "/first.png");
    // Faster than the link takes them: some are skipped, never the newest.
    let last = picture(4 << 20, 9);
    for number in 0..40 {
        let bytes = if number == 39 {
            &last
        } else {
            &picture(4 << 20, number)
        };
        writer
            .send_image(&format!("/burst-{number}"), bytes)
            .unwrap();
    }
    let (image, _) = bridged.arrives("the newest picture of the burst", "/burst-39");
    assert!(image.bytes == last);
}

/// The TCP ports the process `pid` listens on.
fn listening_ports(pid: u32) -> Vec<u16> {
    let sockets: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local address, state (0A: listening), inode
            let (local, state, inode) = (fields[1], fields[3], fields[9]);
            if state == "0A" && sockets.iter().any(|socket| socket == inode) {
                let port = local.rsplit_once(':').unwrap().1;
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

#[test]
fn a_bridge_listens_only_where_it_is_told() {
    let (mut writer, bridged) = Bridged::new("bridge-listen", 1 << 20);
    writer.send_image("/crossed.png", b"crossed").unwrap();
    bridged.arrives("the picture", "/crossed.png");
    assert_eq!(listening_ports(bridged.out.0.id()), [bridged.port]);
    assert_eq!(listening_ports(bridged.inside.0.id()), Vec::<u16>::new());
}

#[test]
fn the_source_writer_closing_crashing_and_coming_back_shows_on_the_other_side() {
    let (mut writer, bridged) = Bridged::new("bridge-status", 1 << 20);
    let (from, into) = (&bridged.from, &bridged.into);
    writer.send_image("/before.png", b"before").unwrap();
    bridged.arrives("the first picture", "/before.png");

    // The source writer closes, keeping its segment: the bridge's local writer lets go too.
    writer.set_persist(true);
    drop(writer);
    wait_for(into, "the writer's close", |reader| {
        (reader.writer_status() == WriterStatus::Closed).then_some(())
    });
    let mut reader = Reader::open(&into.location).unwrap();
    assert_eq!(
        reader.latest_image().unwrap().unwrap().0.path,
        "/before.png",
        "records stay"
    );

    let mut writer = Writer::create(
        &from.location,
        CreationMode::CreateOrOpen,
        Capacity::Default,
    )
    .unwrap();
    writer.send_image("/after.png", b"after").unwrap();
    bridged.arrives("a picture from the next writer", "/after.png");
    assert!(matches!(
        Reader::open(&into.location).unwrap().writer_status(),
        WriterStatus::Active { .. }
    ));

    // The source writer dies (it lets go as a killed one would: the lock free, its pid left):
    // the other side's writer shows as crashed too, its records still there.
    writer.abandon();
    let status = wait_for(into, "the writer's crash", |reader| {
        let status = reader.writer_status();
        matches!(status, WriterStatus::Crashed { .. }).then_some(status)
    });
    assert_ne!(
        status,
        WriterStatus::Crashed {
            pid: std::process::id()
        },
        "the crash shown is the other side's writer's"
    );
    let mut reader = Reader::open(&into.location).unwrap();
    assert_eq!(reader.latest_image().unwrap().unwrap().0.path, "/after.png");

    // A writer taking over the source is followed there too.
    let mut writer = Writer::create(
        &from.location,
        CreationMode::OpenExisting,
        Capacity::Default,
    )
    .unwrap();
    writer.send_image("/taken-over.png", b"again").unwrap();
    bridged.arrives("a picture after the crash", "/taken-over.png");
    assert!(matches!(
        Reader::open(&into.location).unwrap().writer_status(),
        WriterStatus::Active { .. }
    ));
}

#[test]
fn either_bridge_killed_and_restarted_carries_on() {
    let (mut writer, mut bridged) = Bridged::new("bridge-kill", 1 << 20);
    writer.send_image("/one.png", b"one").unwrap();
    bridged.arrives("the first picture", "/one.png");

    bridged.inside.kill();
    bridged.inside = inbound(&bridged.from, &bridged.into, bridged.port, &[]);
    writer.send_image("/two.png", b"two").unwrap();
    bridged.arrives("a picture after the inbound bridge came back", "/two.png");

    bridged.out.kill();
    bridged.out = outbound(&bridged.from, bridged.port);
    writer.send_image("/three.png", b"three").unwrap();
    bridged.arrives(
        "a picture after the outbound bridge came back",
        "/three.png",
    );
}

#[test]
fn a_second_bridge_into_one_segment_is_refused_and_garbage_is_dropped() {
    let (mut writer, mut bridged) = Bridged::new("bridge-two", 1 << 20);
    let (from, into, port) = (&bridged.from, &bridged.into, bridged.port);
    writer.send_image("/kept.png", b"kept").unwrap();
    bridged.arrives("the picture", "/kept.png");

    // A second writer of the same local segment is refused, as any second writer is.
    let mut second = inbound(from, into, port, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = second.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the second bridge was not refused"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    let refused = second.kill();
    assert!(refused.contains("shm-bridge:"), "{refused}");

    // Garbage and a record that fails its checksum, put straight on the network.
    let mut config = zenoh::Config::default();
    config
        .insert_json5("scouting/multicast/enabled", "false")
        .unwrap();
    config
        .insert_json5("connect/endpoints", &format!("[\"tcp/127.0.0.1:{port}\"]"))
        .unwrap();
    let session = zenoh::open(config).wait().unwrap();
    let key = |channel: &str| format!("shm-exchange/{}/record/{channel}", from.name);
    std::thread::sleep(Duration::from_secs(1));
    // On two keys: of one key only the newest waiting message would be looked at.
    session
        .put(key("struct"), b"not a record".to_vec())
        .wait()
        .unwrap();
    let mut damaged = ImageMessage {
        path: "/damaged.png".to_owned(),
        bytes: b"damaged".to_vec(),
    }
    .to_bytes();
    let checksum = shm_common::checksum::Checksum::of(&damaged);
    damaged[0] ^= 1;
    let mut message = b"SHMBRDG1".to_vec();
    message.extend_from_slice(&1u32.to_le_bytes());
    message.extend_from_slice(&shm_common::RecordKind::Image.code().to_le_bytes());
    for value in [1u64, 999, checksum, damaged.len() as u64, 0, 0] {
        message.extend_from_slice(&value.to_le_bytes());
    }
    message.extend_from_slice(&damaged);
    session.put(key("picture"), message).wait().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    session.close().wait().unwrap();
    let said = bridged.inside.kill();
    assert!(
        said.contains("not a message of this bridge's version"),
        "{said}"
    );
    assert!(said.contains("fails its checksum"), "{said}");
    let mut reader = Reader::open(&into.location).unwrap();
    let (image, _) = reader.latest_image().unwrap().unwrap();
    assert_eq!(image.path, "/kept.png", "nothing damaged was written");
}

#[test]
fn a_record_over_max_bytes_is_dropped_with_a_line_saying_so() {
    let (from, into) = (
        TestSegment::new("bridge-max-from"),
        TestSegment::new("bridge-max-into"),
    );
    let port = free_port();
    let mut writer = writer(&from);
    let _out = outbound(&from, port);
    let mut inside = inbound(&from, &into, port, &["--max-bytes", "4096"]);
    writer.send_image("/small.png", &picture(1000, 5)).unwrap();
    wait_for(&into, "the small picture", |reader| {
        image_named(reader, "/small.png")
    });
    writer
        .send_image("/large.png", &picture(100_000, 6))
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    writer.send_struct(&TestData::default()).unwrap();
    wait_for(&into, "the struct sent after it", |reader| {
        reader.latest_struct().ok().flatten()
    });
    let said = inside.kill();
    let framed = ImageMessage::framed_len("/large.png", 100_000);
    assert!(
        said.contains(&format!(
            "dropped a record of `picture` from shm-exchange/{}/record/picture: it claims {framed} bytes, more than the 4096 accepted",
            from.name
        )),
        "{said}"
    );
    let mut reader = Reader::open(&into.location).unwrap();
    let (image, _) = reader.latest_image().unwrap().unwrap();
    assert_eq!(
        image.path, "/small.png",
        "the oversized picture was written"
    );
}

/// A certificate authority, a server certificate for `localhost` and a client certificate it
/// signed, and a password file, written into `dir`; returns the Zenoh configurations (JSON5) of
/// the listening bridge and of connecting bridges with and without each credential.
struct Credentials {
    listener: String,
    connector: String,
    wrong_password: String,
    no_client_certificate: String,
}

fn credentials(dir: &std::path::Path) -> Credentials {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_certificate = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let path = |name: &str| dir.join(name).display().to_string();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("ca.pem", &ca_certificate.pem());
    for (name, usage) in [
        ("server", ExtendedKeyUsagePurpose::ServerAuth),
        ("client", ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &issuer).unwrap();
        write(&format!("{name}.pem"), &certificate.pem());
        write(&format!("{name}.key"), &key.serialize_pem());
    }
    write("users.txt", "receiver:the-right-password\n");
    let tls_client = format!(
        r#"root_ca_certificate: "{}", connect_certificate: "{}", connect_private_key: "{}",
            enable_mtls: true"#,
        path("ca.pem"),
        path("client.pem"),
        path("client.key")
    );
    // Only the endpoints given: no multicast scouting, no gossip, no listening.
    let alone = r#"scouting: { multicast: { enabled: false }, gossip: { enabled: false } }"#;
    let connector = |tls: &str, password: &str| {
        format!(
            r#"{{ {alone}, listen: {{ endpoints: [] }},
                transport: {{ link: {{ tls: {{ {tls} }} }},
                auth: {{ usrpwd: {{ user: "receiver", password: "{password}" }} }} }} }}"#
        )
    };
    Credentials {
        listener: format!(
            r#"{{ {alone}, transport: {{
                link: {{ tls: {{ root_ca_certificate: "{}", listen_certificate: "{}",
                    listen_private_key: "{}", enable_mtls: true }} }},
                auth: {{ usrpwd: {{ dictionary_file: "{}" }} }} }} }}"#,
            path("ca.pem"),
            path("server.pem"),
            path("server.key"),
            path("users.txt")
        ),
        connector: connector(&tls_client, "the-right-password"),
        wrong_password: connector(&tls_client, "a-guess"),
        no_client_certificate: connector(
            &format!(r#"root_ca_certificate: "{}""#, path("ca.pem")),
            "the-right-password",
        ),
    }
}

#[test]
fn with_tls_and_a_password_only_the_right_bridge_gets_in() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = credentials(dir.path());
    let config = |name: &str, text: &str| {
        let file = dir.path().join(format!("{name}.json5"));
        std::fs::write(&file, text).unwrap();
        file.display().to_string()
    };
    let from = TestSegment::new("bridge-tls-from");
    let port = free_port();
    let tls = format!("tls/localhost:{port}");
    let mut writer = writer(&from);
    let listener = config("listener", &credentials.listener);
    let _out = Bridge::start(&[
        "--name", &from.name, "--listen", &tls, "--config", &listener,
    ]);
    // One bridge with every credential, and one without each.
    let receivers = [
        ("right", Some(credentials.connector.as_str()), tls.clone()),
        (
            "wrongpw",
            Some(credentials.wrong_password.as_str()),
            tls.clone(),
        ),
        (
            "nocert",
            Some(credentials.no_client_certificate.as_str()),
            tls.clone(),
        ),
        ("plain", None, format!("tcp/127.0.0.1:{port}")),
    ];
    let mut bridges = Vec::new();
    let mut segments = Vec::new();
    for (name, text, endpoint) in receivers {
        let into = TestSegment::new(&format!("bridge-tls-{name}"));
        let mut args = vec![
            "--from".to_owned(),
            from.name.clone(),
            "--into".to_owned(),
            into.name.clone(),
            "--connect".to_owned(),
            endpoint,
        ];
        if let Some(text) = text {
            args.extend(["--config".to_owned(), config(name, text)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bridges.push(Bridge::start(&args));
        segments.push(into);
    }
    writer
        .send_image("/secret.png", b"for the right bridge only")
        .unwrap();
    wait_for(
        &segments[0],
        "the picture, over TLS with the password",
        |reader| image_named(reader, "/secret.png"),
    );
    // The others had as long and longer: nothing of the source reached them.
    std::thread::sleep(Duration::from_secs(3));
    for into in &segments[1..] {
        assert!(
            Reader::open(&into.location).is_err(),
            "{} got the segment without every credential",
            into.name
        );
    }
}

/// Runs `ip` with `args`, which must succeed.
fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two network namespaces joined by a veth pair, 10.200.N.1 in the first and 10.200.N.2 in
/// the second: two hosts with a link between them that a test can cut. Deleted when dropped.
struct TwoHosts {
    names: [String; 2],
    links: [String; 2],
    subnet: u32,
}

impl TwoHosts {
    fn new() -> TwoHosts {
        // Tests run side by side in one process: each pair of hosts gets its own number.
        static PAIRS: AtomicU32 = AtomicU32::new(0);
        let pair = PAIRS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let hosts = TwoHosts {
            names: [format!("shmb-{pid}-{pair}a"), format!("shmb-{pid}-{pair}b")],
            links: [format!("shmb{pid}{pair}a"), format!("shmb{pid}{pair}b")],
            subnet: (pid * 4 + pair) % 250 + 1,
        };
        for name in &hosts.names {
            ip(&["netns", "add", name]);
        }
        let [a, b] = &hosts.names;
        let [link_a, link_b] = &hosts.links;
        ip(&[
            "link", "add", link_a, "netns", a, "type", "veth", "peer", link_b, "netns", b,
        ]);
        for (index, (name, link)) in hosts.names.iter().zip(&hosts.links).enumerate() {
            let address = format!("{}/24", hosts.address(index));
            ip(&["-n", name, "addr", "add", &address, "dev", link]);
            ip(&["-n", name, "link", "set", link, "up"]);
            ip(&["-n", name, "link", "set", "lo", "up"]);
        }
        hosts
    }

    fn address(&self, host: usize) -> String {
        format!("10.200.{}.{}", self.subnet, host + 1)
    }

    /// Limits what the first host sends over the link to `rate` (tc's syntax, e.g. `20mbit`),
    /// with a token bucket (netem is not in every kernel).
    fn limit_rate(&self, rate: &str) {
        let (name, link) = (&self.names[0], &self.links[0]);
        let limit = [
            "-n", name, "qdisc", "add", "dev", link, "root", "tbf", "rate", rate, "burst",
            "32kbit", "latency", "400ms",
        ];
        let output = Command::new("tc").args(limit).output().unwrap();
        assert!(
            output.status.success(),
            "tc {limit:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Takes the second host's end of the link down or up.
    fn set_link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.names[1], "link", "set", &self.links[1], state]);
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

#[test]
#[ignore = "needs root and iproute2 to make network namespaces: scripts/bridge.sh runs it as root"]
fn a_link_cut_between_two_hosts_heals_and_the_newest_record_arrives() {
    let hosts = TwoHosts::new();
    let (from, into) = (
        TestSegment::new("bridge-cut-from"),
        TestSegment::new("bridge-cut-into"),
    );
    let endpoint = format!("tcp/{}:7447", hosts.address(0));
    let mut writer = writer(&from);
    let mut out = Bridge::start_in(
        &hosts.names[0],
        &["--name", &from.name, "--listen", &endpoint],
    );
    let mut inside = Bridge::start_in(
        &hosts.names[1],
        &[
            "--from",
            &from.name,
            "--into",
            &into.name,
            "--connect",
            &endpoint,
        ],
    );
    writer.send_image("/before-the-cut.png", b"before").unwrap();
    wait_for(&into, "a picture across the link", |reader| {
        image_named(reader, "/before-the-cut.png")
    });

    // Down for longer than Zenoh's session lease (10 s): the session ends and must be made
    // again, by the bridges themselves.
    hosts.set_link(false);
    let during = picture(300_000, 4);
    std::thread::sleep(Duration::from_secs(1));
    writer.send_image("/during-the-cut.png", &during).unwrap();
    std::thread::sleep(Duration::from_secs(13));
    let mut reader = Reader::open(&into.location).unwrap();
    assert_eq!(
        reader.latest_image().unwrap().unwrap().0.path,
        "/before-the-cut.png",
        "a picture crossed a link that was down"
    );
    assert!(
        out.running() && inside.running(),
        "a bridge died of the cut"
    );

    // Back up: the newest record, published while the link was down, arrives without being
    // sent again, and so do the next ones.
    hosts.set_link(true);
    let (image, _) = wait_for(&into, "the picture published during the cut", |reader| {
        image_named(reader, "/during-the-cut.png")
    });
    assert!(image.bytes == during);
    writer.send_image("/after-the-cut.png", b"after").unwrap();
    wait_for(&into, "a picture after the cut", |reader| {
        image_named(reader, "/after-the-cut.png")
    });
    assert!(out.running() && inside.running());
}

#[test]
#[ignore = "needs root and iproute2 to make network namespaces: scripts/bridge.sh runs it as root"]
fn a_slow_link_skips_to_the_newest_record_and_never_loses_it() {
    let hosts = TwoHosts::new();
    // 20 Mbit/s: a 512 KiB picture takes about 0.2 s, far longer than the writer takes.
    hosts.limit_rate("20mbit");
    let (from, into) = (
        TestSegment::new("bridge-slow-from"),
        TestSegment::new("bridge-slow-into"),
    );
    let endpoint = format!("tcp/{}:7447", hosts.address(0));
    let mut writer = writer(&from);
    let _out = Bridge::start_in(
        &hosts.names[0],
        &["--name", &from.name, "--listen", &endpoint],
    );
    let _in = Bridge::start_in(
        &hosts.names[1],
        &[
            "--from",
            &from.name,
            "--into",
            &into.name,
            "--connect",
            &endpoint,
        ],
    );
    writer.send_image("/first.png", b"first").unwrap();
    wait_for(&into, "a picture across the slow link", |reader| {
        image_named(reader, "/first.png")
    });
    let last = picture(1 << 19, 30);
    for number in 0..30u8 {
        let bytes = if number == 29 {
            last.clone()
        } else {
            picture(1 << 19, number)
        };
        writer
            .send_image(&format!("/slow-{number}"), &bytes)
            .unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let (image, meta) = wait_for(&into, "the newest picture", |reader| {
        image_named(reader, "/slow-29")
    });
    assert!(image.bytes == last);
    // The far side's own count: the first picture, then what crossed of the 30.
    assert!(
        meta.sequence < 20,
        "{} pictures crossed a link that carries about 5 a second: nothing was skipped",
        meta.sequence - 1
    );
}
