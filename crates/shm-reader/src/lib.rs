//! The Reader window: 咻一下 shows the latest picture and its path, Struct pops up the struct
//! as the original did, and Live shows every new picture, struct and stream frame as it is
//! sent, with the stream's speed. It waits for a Writer that is not there yet, and follows a
//! Writer that exits, restarts or grows its segment.

mod worker;

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use egui::{RichText, Role, Sense, TextEdit, Ui, Vec2, WidgetInfo};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shm_common::{Capacities, SegmentArgs, SegmentLocation, TestData, WriterStatus};
use shm_ui::{EventLog, Language, Note, PictureTextures, PictureView, Status, WindowArgs};

use worker::{
    ChannelValue, Command, Event, FrameInfo, LiveFrame, PerKind, Received, Timing, WorkerHandle,
};

/// The window's title, as in the original.
pub const TITLE: &str = "Reader";
/// How wide the details panel is at most: fixed (never sized by its text), and never more than
/// [`DETAILS_SHARE`] of the window, so the picture keeps most of it.
const DETAILS_WIDTH: f32 = 270.0;
/// The most of the window's width the details panel takes.
const DETAILS_SHARE: f32 = 0.3;
/// How many recent pictures the strip keeps.
const HISTORY: usize = 8;
/// Height of the strip's thumbnails.
const THUMBNAIL: f32 = 48.0;

/// The Reader's command line.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "shm-reader",
    version,
    about = "The Reader window: show what the Writer sends, on a click (咻一下, Struct) or live"
)]
pub struct Args {
    /// Which segment: `--name` or `--file`.
    #[command(flatten)]
    pub segment: SegmentArgs,
    /// `--events` and `--position`.
    #[command(flatten)]
    pub window: WindowArgs,
}

/// Opens the Reader window and runs it until it is closed.
pub fn run(args: Args) -> ExitCode {
    let events = match args.window.event_log("reader") {
        Ok(events) => events,
        Err(message) => {
            eprintln!("shm-reader: {message}");
            return ExitCode::FAILURE;
        }
    };
    let options = ReaderOptions {
        location: args.segment.location(),
        events,
        companion: args.window.companion(),
    };
    args.window
        .run(TITLE, "shm-reader", |cc| ReaderApp::new(cc, options))
}

/// What the Reader is started with (its command-line flags).
#[derive(Clone)]
pub struct ReaderOptions {
    /// The segment to read.
    pub location: SegmentLocation,
    /// Where to log what happens (`--events`).
    pub events: EventLog,
    /// Asks the launcher that started this window to reopen the Writer, if one did.
    pub companion: Option<shm_ui::Companion>,
}

impl Default for ReaderOptions {
    fn default() -> ReaderOptions {
        ReaderOptions {
            location: SegmentLocation::default(),
            events: EventLog::disabled("reader"),
            companion: None,
        }
    }
}

/// What the Reader remembers between runs.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Settings {
    language: Language,
    live: bool,
    stretch: bool,
}

/// The Reader's view of the segment.
enum Link {
    Waiting,
    Connected {
        capacities: Capacities,
        writer: WriterStatus,
        /// A Writer was active at some point: a closed one has "exited" rather than "not come".
        had_writer: bool,
    },
    Failed(shm_common::OpenError),
}

/// A picture that arrived and what is known about it.
struct ShownPicture {
    path: String,
    textures: PictureTextures,
    len: usize,
    shown_size: (u32, u32),
    format: &'static str,
    orientation: Option<&'static str>,
    frames: usize,
    frames_cut: bool,
    timing: Timing,
    decode_time: Duration,
    downscaled: bool,
}

/// The newest frame of a live stream on screen.
struct ShownFrame {
    textures: PictureTextures,
    info: FrameInfo,
}

/// What the central view shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Showing {
    /// The picture at this index of the history (0 is the newest).
    Picture(usize),
    /// The live stream's newest frame.
    Frame,
}

/// Live figures, worked out from the worker's samples when drawn.
#[derive(Default)]
struct LiveFigures {
    received: PerKind,
    skipped: PerKind,
    received_per_second: f64,
    transfer_median: Option<Duration>,
    transfer_p99: Option<Duration>,
    /// Seconds ago (negative) and transfer in ms, for the plot.
    transfer_points: Vec<[f64; 2]>,
    /// Seconds ago (negative) and frames per second received, per quarter second.
    fps_points: Vec<[f64; 2]>,
}

/// The Reader app.
pub struct ReaderApp {
    options: ReaderOptions,
    settings: Settings,
    worker: WorkerHandle,
    link: Link,
    /// Recent pictures, newest first.
    history: VecDeque<ShownPicture>,
    frame: Option<ShownFrame>,
    showing: Showing,
    view: PictureView,
    latest_struct: Option<(TestData, Timing)>,
    /// The latest record of each channel other than the demo's, in arrival order.
    channels: Vec<ChannelValue>,
    popup: Option<Option<TestData>>,
    status: Status,
    max_side_sent: Option<u32>,
    /// When the window drew each recent frame.
    frames_drawn: VecDeque<Instant>,
    figures: LiveFigures,
    /// When the live counts were last written to the event log.
    stats_logged: Instant,
}

impl ReaderApp {
    /// Builds the app: installs the CJK font, restores the settings and starts the worker that
    /// connects to the segment (or waits for it).
    pub fn new(cc: &eframe::CreationContext<'_>, options: ReaderOptions) -> ReaderApp {
        shm_ui::install_cjk_font(&cc.egui_ctx);
        let settings: Settings = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, eframe::APP_KEY))
            .unwrap_or_default();
        let worker = worker::spawn(
            options.location.clone(),
            cc.egui_ctx.clone(),
            options.events.clone(),
        );
        worker.send(Command::SetLive(settings.live));
        ReaderApp {
            options,
            settings,
            worker,
            link: Link::Waiting,
            history: VecDeque::new(),
            frame: None,
            showing: Showing::Picture(0),
            view: PictureView::default(),
            latest_struct: None,
            channels: Vec::new(),
            popup: None,
            status: Status::default(),
            max_side_sent: None,
            frames_drawn: VecDeque::new(),
            figures: LiveFigures::default(),
            stats_logged: Instant::now(),
        }
    }

    fn language(&self) -> Language {
        self.settings.language
    }

    fn apply(&mut self, ctx: &egui::Context, event: Event) {
        match event {
            Event::Waiting => self.link = Link::Waiting,
            Event::OpenFailed(error) => self.link = Link::Failed(error),
            Event::Connected {
                capacities,
                writer,
                reconnected,
            } => {
                self.link = Link::Connected {
                    capacities,
                    writer,
                    had_writer: matches!(writer, WriterStatus::Active { .. }),
                };
                if reconnected {
                    self.status.set(Note::Reconnected {
                        pid: active_pid(writer),
                    });
                }
            }
            Event::Followed { capacities } => {
                if let Link::Connected {
                    capacities: known, ..
                } = &mut self.link
                {
                    *known = capacities;
                }
                self.status.set(Note::FollowedGrowth {
                    capacity: capacities.picture,
                    frame_capacity: capacities.frame,
                });
            }
            Event::Writer(status) => {
                if let Link::Connected {
                    writer, had_writer, ..
                } = &mut self.link
                {
                    *writer = status;
                    *had_writer |= matches!(status, WriterStatus::Active { .. });
                }
                // The top line tells the writer's state; an older message would contradict it.
                self.status.clear();
            }
            Event::Picture(received) => self.show_picture(ctx, *received),
            Event::NoPicture => self.status.set(Note::NoPicture),
            Event::Struct { data, clicked } => {
                if data.is_some() {
                    self.latest_struct = data;
                }
                if clicked {
                    let data = data.map(|(data, _)| data);
                    let text = data.map_or_else(
                        || self.language().texts().no_struct.to_owned(),
                        |data| data.to_string(),
                    );
                    self.options.events.record("popup", json!({ "text": text }));
                    self.popup = Some(data);
                }
            }
            Event::Channel(value) => {
                match self
                    .channels
                    .iter_mut()
                    .find(|shown| shown.channel.name == value.channel.name)
                {
                    Some(shown) => *shown = *value,
                    None => self.channels.push(*value),
                }
            }
            Event::ReadFailed(error) => self.status.set(Note::Read(std::sync::Arc::new(error))),
            Event::NotConnected => self.status.set(Note::NoWriterYet),
        }
    }

    fn show_picture(&mut self, ctx: &egui::Context, received: Received) {
        match received.decoded {
            Ok(mut decoded) => {
                // The limit can change (another monitor) while the worker decodes.
                decoded.fit_within(shm_ui::max_texture_side(ctx));
                let format = shm_picture::format_name(decoded.format);
                let shown_size = decoded.shown_size();
                self.options.events.record(
                    "shown",
                    json!({
                        "path": received.path,
                        "len": received.len,
                        "sequence": received.timing.sequence,
                        "width": shown_size.0,
                        "height": shown_size.1,
                        "format": format,
                        "frames": decoded.frames.len(),
                        "downscaled": decoded.downscaled,
                        "transfer_us": received.timing.delivery.transfer.as_micros() as u64,
                    }),
                );
                let picture = ShownPicture {
                    textures: PictureTextures::load(ctx, "reader-picture", &decoded),
                    path: received.path,
                    len: received.len,
                    shown_size,
                    format,
                    orientation: shm_picture::orientation_name(decoded.orientation),
                    frames: decoded.frames.len(),
                    frames_cut: decoded.frames_cut,
                    timing: received.timing,
                    decode_time: decoded.decode_time,
                    downscaled: decoded.downscaled,
                };
                self.history.push_front(picture);
                self.history.truncate(HISTORY);
                self.showing = Showing::Picture(0);
                self.view.fit();
                // An error about an earlier record no longer holds; news (a growth) does.
                if self.status.0.as_ref().is_some_and(Note::is_error) {
                    self.status.clear();
                }
            }
            Err(error) => {
                let note = Note::NotAPicture {
                    path: received.path,
                    error,
                };
                self.options.events.record(
                    "error",
                    json!({ "message": Language::English.word(&note, &self.options.location) }),
                );
                self.status.set(note);
            }
        }
    }

    /// Takes the newest frame from the worker, if there is one, and uploads it.
    fn take_frame(&mut self, ctx: &egui::Context) {
        let Some(frame) = self.worker.mailbox().frame.take() else {
            return;
        };
        let LiveFrame { image, info } = frame;
        match &mut self.frame {
            Some(shown) if (shown.info.width, shown.info.height) == (info.width, info.height) => {
                shown.textures.replace(image);
                shown.info = info;
            }
            _ => {
                self.frame = Some(ShownFrame {
                    textures: PictureTextures::still(ctx, "reader-frame", image),
                    info,
                });
                self.view.fit();
            }
        }
        if self.showing != Showing::Frame {
            self.showing = Showing::Frame;
            self.view.fit();
        }
        self.frames_drawn.push_back(Instant::now());
        self.options.events.record(
            "frame_shown",
            json!({
                "frame": info.number,
                "sequence": info.timing.sequence,
                "width": info.width,
                "height": info.height,
                "transfer_us": info.timing.delivery.transfer.as_micros() as u64,
            }),
        );
    }

    fn link_line(&self) -> (String, bool) {
        let language = self.language();
        let zh = language == Language::Chinese;
        let location = &self.options.location;
        let segment = language.segment(location);
        match &self.link {
            Link::Waiting => (
                if zh {
                    format!("正在等待 Writer 创建{segment}…")
                } else {
                    format!("waiting for a Writer to create {segment}…")
                },
                false,
            ),
            Link::Failed(error) => (language.open_error(error, location), true),
            Link::Connected {
                capacities,
                writer,
                had_writer,
            } => {
                let size = language.size(capacities.picture);
                match (writer, zh) {
                    (WriterStatus::Active { pid }, true) => (
                        format!("已连接{segment}（每张图片最多 {size}），Writer pid {pid}"),
                        false,
                    ),
                    (WriterStatus::Active { pid }, false) => (
                        format!("connected to {segment} (pictures up to {size}), Writer pid {pid}"),
                        false,
                    ),
                    (WriterStatus::Closed | WriterStatus::Replaced, true) if !had_writer => (
                        format!("已打开{segment}（每张图片最多 {size}），目前没有 Writer"),
                        false,
                    ),
                    (WriterStatus::Closed | WriterStatus::Replaced, false) if !had_writer => (
                        format!("opened {segment} (pictures up to {size}); no Writer is attached"),
                        false,
                    ),
                    (WriterStatus::Closed | WriterStatus::Replaced, true) => (
                        "Writer 已退出：仍显示最后收到的内容，正在等待新的 Writer…".to_owned(),
                        true,
                    ),
                    (WriterStatus::Closed | WriterStatus::Replaced, false) => (
                        "the Writer exited: showing what it sent last, waiting for a new one…"
                            .to_owned(),
                        true,
                    ),
                    (WriterStatus::Crashed { pid }, true) => (
                        format!(
                            "Writer（pid {pid}）意外终止：仍显示最后收到的内容，正在等待新的 Writer…"
                        ),
                        true,
                    ),
                    (WriterStatus::Crashed { pid }, false) => (
                        format!(
                            "the Writer (pid {pid}) died: showing what it sent last, waiting for a new one…"
                        ),
                        true,
                    ),
                }
            }
        }
    }

    fn controls(&mut self, ui: &mut Ui) {
        let texts = self.language().texts();
        // Wrapped, so a narrow window moves Live and Stretch to a second row, never off-screen.
        ui.horizontal_wrapped(|ui| {
            if ui.button(texts.whoosh).clicked() {
                self.worker.send(Command::ReadImage);
            }
            if ui.button(texts.struct_button).clicked() {
                self.worker.send(Command::ReadStruct);
            }
            if ui.checkbox(&mut self.settings.live, texts.live).changed() {
                self.worker.send(Command::SetLive(self.settings.live));
                self.frames_drawn.clear();
            }
            ui.checkbox(&mut self.settings.stretch, texts.stretch);
            if let Some(companion) = &self.options.companion
                && ui.button(texts.open_writer).clicked()
            {
                companion.open("writer");
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label(texts.picture_path);
            let mut path = match self.showing {
                Showing::Picture(index) => self
                    .history
                    .get(index)
                    .map_or(String::new(), |picture| picture.path.clone()),
                Showing::Frame => self
                    .frame
                    .as_ref()
                    .map_or(String::new(), |frame| frame_name(&frame.info)),
            };
            ui.add(TextEdit::singleline(&mut path).desired_width(f32::INFINITY))
                .labelled_by(label.id);
        });
    }

    fn details(&mut self, ui: &mut Ui) {
        let language = self.language();
        let texts = language.texts();
        let row = |ui: &mut Ui, name: &str, value: String| {
            ui.label(RichText::new(name).strong());
            ui.add(egui::Label::new(value).wrap());
            ui.end_row();
        };
        let timing_rows = |ui: &mut Ui, timing: &Timing| {
            row(
                ui,
                texts.transfer,
                language.duration(timing.delivery.transfer),
            );
            row(ui, texts.write_time, language.duration(timing.write_time));
        };
        let sent_ago = |timing: &Timing| {
            let ago = shm_common::monotonic_ns().saturating_sub(timing.published_ns);
            language.ago(Duration::from_nanos(ago))
        };
        let shown_picture = match self.showing {
            Showing::Picture(index) => self.history.get(index),
            Showing::Frame => None,
        };
        egui::Grid::new("reader-details")
            .num_columns(2)
            .min_col_width(80.0)
            .max_col_width((ui.available_width() - 90.0).max(60.0))
            .show(ui, |ui| {
                if let Some(picture) = shown_picture {
                    row(
                        ui,
                        texts.size,
                        format!(
                            "{} {}",
                            picture.len,
                            if language == Language::Chinese {
                                format!("字节（{}）", language.size(picture.len))
                            } else {
                                format!("bytes ({})", language.size(picture.len))
                            }
                        ),
                    );
                    row(
                        ui,
                        texts.pixels,
                        format!("{} × {}", picture.shown_size.0, picture.shown_size.1),
                    );
                    row(ui, texts.format, picture.format.to_owned());
                    if let Some(orientation) = picture.orientation {
                        row(ui, texts.orientation, orientation.to_owned());
                    }
                    if picture.frames > 1 {
                        let cut = if picture.frames_cut { " +" } else { "" };
                        row(ui, texts.frames, format!("{}{cut}", picture.frames));
                    }
                    timing_rows(ui, &picture.timing);
                    row(ui, texts.sent, sent_ago(&picture.timing));
                    row(
                        ui,
                        texts.decode_time,
                        language.duration(picture.decode_time),
                    );
                    if picture.downscaled {
                        ui.label("");
                        ui.add(egui::Label::new(texts.downscaled).wrap());
                        ui.end_row();
                    }
                }
                if let (Showing::Frame, Some(frame)) = (self.showing, &self.frame) {
                    let info = &frame.info;
                    row(ui, texts.frame_number, info.number.to_string());
                    row(
                        ui,
                        texts.pixels,
                        format!("{} × {} {}", info.width, info.height, info.format),
                    );
                    row(ui, texts.size, language.size(info.len));
                    timing_rows(ui, &info.timing);
                }
            });
        if shown_picture.is_some() {
            // "sent 3 s ago" keeps counting.
            ui.ctx().request_repaint_after(Duration::from_secs(1));
        }
        if let Some((data, timing)) = &self.latest_struct {
            ui.separator();
            ui.label(RichText::new(texts.latest_struct).strong());
            struct_table(ui, data, language);
            ui.label(
                RichText::new(format!(
                    "{} {} · {} {}",
                    texts.transfer,
                    language.duration(timing.delivery.transfer),
                    texts.sent,
                    sent_ago(timing)
                ))
                .small()
                .weak(),
            );
            // The original's one-line text, as the popup shows it.
            ui.add(egui::Label::new(RichText::new(data.to_string()).small()).wrap());
        }
        if !self.channels.is_empty() {
            ui.separator();
            ui.label(RichText::new(texts.channels).strong());
            for value in &self.channels {
                channel_table(ui, value, language);
                ui.label(
                    RichText::new(format!(
                        "#{} · {} {} · {} {}",
                        value.timing.sequence,
                        texts.transfer,
                        language.duration(value.timing.delivery.transfer),
                        texts.sent,
                        sent_ago(&value.timing)
                    ))
                    .small()
                    .weak(),
                );
            }
        }
        if self.settings.live {
            ui.separator();
            self.live_section(ui);
        }
    }

    fn live_section(&mut self, ui: &mut Ui) {
        let language = self.language();
        let texts = language.texts();
        let figures = &self.figures;
        let now = Instant::now();
        while self
            .frames_drawn
            .front()
            .is_some_and(|at| now.duration_since(*at) > worker::STATS_WINDOW)
        {
            self.frames_drawn.pop_front();
        }
        let per_second = |times: &VecDeque<Instant>| {
            let recent = times
                .iter()
                .filter(|at| now.duration_since(**at) <= Duration::from_secs(1))
                .count();
            recent as f64
        };
        let shown_per_second = per_second(&self.frames_drawn);
        let zh = language == Language::Chinese;
        let counts = |values: &PerKind| {
            let [images, structs, frames, _] = *values;
            if zh {
                format!("图片 {images}，结构体 {structs}，视频帧 {frames}")
            } else {
                format!("{images} pictures, {structs} structs, {frames} frames")
            }
        };
        let per_second_text = |rate: f64| {
            if zh {
                format!("{rate:.0} 帧/秒")
            } else {
                format!("{rate:.0} frames/s")
            }
        };
        let duration =
            |value: Option<Duration>| value.map_or("–".to_owned(), |d| language.duration(d));
        egui::Grid::new("reader-live")
            .num_columns(2)
            .max_col_width((ui.available_width() - 90.0).max(60.0))
            .show(ui, |ui| {
                let row = |ui: &mut Ui, name: &str, value: String| {
                    ui.label(RichText::new(name).strong());
                    ui.add(egui::Label::new(value).wrap());
                    ui.end_row();
                };
                row(ui, texts.received, counts(&figures.received));
                row(ui, texts.skipped, counts(&figures.skipped));
                row(
                    ui,
                    texts.received_per_second,
                    per_second_text(figures.received_per_second),
                );
                row(
                    ui,
                    texts.shown_per_second,
                    per_second_text(shown_per_second),
                );
                row(ui, texts.transfer_median, duration(figures.transfer_median));
                row(ui, texts.transfer_p99, duration(figures.transfer_p99));
            });
        // Two small plots, one per unit, over the same last seconds.
        ui.label(RichText::new(texts.plot_heading).small());
        for (id, name, points) in [
            ("reader-plot-fps", texts.plot_fps, &figures.fps_points),
            (
                "reader-plot-transfer",
                texts.plot_transfer,
                &figures.transfer_points,
            ),
        ] {
            let line = egui_plot::Line::new(name, egui_plot::PlotPoints::from(points.clone()));
            egui_plot::Plot::new(id)
                .height(80.0)
                .include_x(-worker::STATS_WINDOW.as_secs_f64())
                .include_x(0.0)
                .include_y(0.0)
                .allow_scroll(false)
                .allow_drag(false)
                .allow_zoom(false)
                .legend(egui_plot::Legend::default().position(egui_plot::Corner::LeftTop))
                .show(ui, |plot| plot.line(line));
        }
        ui.ctx().request_repaint_after(Duration::from_millis(250));
    }

    /// Works out the live figures from the worker's samples.
    fn update_figures(&mut self) {
        let now = Instant::now();
        let mut mailbox = self.worker.mailbox();
        let stats = &mut mailbox.stats;
        stats.forget_before(now);
        let mut transfers: Vec<Duration> = stats.transfers.iter().map(|(_, t)| *t).collect();
        transfers.sort();
        let at = |q: f64| {
            (!transfers.is_empty())
                .then(|| transfers[((transfers.len() - 1) as f64 * q).round() as usize])
        };
        let ago = |at: &Instant| -now.duration_since(*at).as_secs_f64();
        let mut buckets = [0u32; 40];
        for time in &stats.frame_times {
            let back = now.duration_since(*time).as_secs_f64();
            if let Some(bucket) = buckets.get_mut((back / 0.25) as usize) {
                *bucket += 1;
            }
        }
        if self.stats_logged.elapsed() >= Duration::from_secs(1) {
            self.stats_logged = Instant::now();
            self.options.events.record(
                "live_stats",
                json!({ "received": stats.received, "skipped": stats.skipped, "not_drawn": stats.not_drawn }),
            );
        }
        self.figures = LiveFigures {
            received: stats.received,
            skipped: stats.skipped,
            received_per_second: stats
                .frame_times
                .iter()
                .filter(|at| now.duration_since(**at) <= Duration::from_secs(1))
                .count() as f64,
            transfer_median: at(0.5),
            transfer_p99: at(0.99),
            transfer_points: stats
                .transfers
                .iter()
                .map(|(when, transfer)| [ago(when), transfer.as_secs_f64() * 1e3])
                .collect(),
            fps_points: buckets
                .iter()
                .enumerate()
                .map(|(index, count)| [-(index as f64 + 0.5) * 0.25, f64::from(*count) * 4.0])
                .collect(),
        };
    }

    fn picture_area(&mut self, ui: &mut Ui) {
        let language = self.language();
        let stretch = self.settings.stretch;
        let shown = match self.showing {
            Showing::Picture(index) => self
                .history
                .get(index)
                .map(|picture| (&picture.textures, picture.path.clone())),
            Showing::Frame => self
                .frame
                .as_ref()
                .map(|frame| (&frame.textures, frame_name(&frame.info))),
        };
        match shown.and_then(|(textures, alt)| Some((textures.current(ui.ctx())?.clone(), alt))) {
            Some((texture, alt)) => {
                self.view.show(ui, &texture, stretch, &alt, language);
            }
            None => {
                ui.centered_and_justified(|ui| ui.label(language.texts().reader_empty));
            }
        }
    }

    /// The strip of recent pictures: click one to show it again.
    fn history_strip(&mut self, ui: &mut Ui) {
        let texts = self.language().texts();
        let mut chosen = None;
        ui.horizontal(|ui| {
            ui.label(RichText::new(texts.history).small().weak());
            egui::ScrollArea::horizontal().show(ui, |ui| {
                ui.horizontal(|ui| {
                    for (index, picture) in self.history.iter().enumerate() {
                        let Some(texture) = picture.textures.current(ui.ctx()) else {
                            continue;
                        };
                        let size = texture.size_vec2();
                        let width = (THUMBNAIL * size.x / size.y.max(1.0)).clamp(12.0, 120.0);
                        let (rect, response) =
                            ui.allocate_exact_size(Vec2::new(width, THUMBNAIL), Sense::click());
                        let label = format!("{} {}: {}", texts.history, index + 1, picture.path);
                        response.widget_info(|| WidgetInfo::labeled(Role::Button, true, &label));
                        ui.painter().image(
                            texture.id(),
                            rect,
                            egui::Rect::from_min_max(egui::Pos2::ZERO, egui::pos2(1.0, 1.0)),
                            egui::Color32::WHITE,
                        );
                        if self.showing == Showing::Picture(index) {
                            ui.painter().rect_stroke(
                                rect,
                                2.0,
                                ui.visuals().selection.stroke,
                                egui::StrokeKind::Outside,
                            );
                        }
                        if response.on_hover_text(&picture.path).clicked() {
                            chosen = Some(index);
                        }
                    }
                });
            });
        });
        if let Some(index) = chosen {
            self.showing = Showing::Picture(index);
            self.view.fit();
        }
    }

    fn popup(&mut self, ctx: &egui::Context) {
        let Some(data) = &self.popup else {
            return;
        };
        let language = self.language();
        let texts = language.texts();
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("reader-struct-popup")).show(ctx, |ui| {
            ui.set_min_width(300.0);
            // The original's message box: one line (the details panel has the table).
            match data {
                Some(data) => ui.label(data.to_string()),
                None => ui.label(texts.no_struct),
            };
            ui.add_space(8.0);
            ui.vertical_centered(|ui| {
                close = ui.button(texts.ok).clicked();
            });
        });
        if close || modal.should_close() {
            self.popup = None;
        }
    }
}

/// The struct as a small table: field names, and values in monospace, right-aligned.
fn struct_table(ui: &mut Ui, data: &TestData, language: Language) {
    let texts = language.texts();
    let mono = |text: String| RichText::new(text).monospace();
    egui::Grid::new(ui.next_auto_id())
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            ui.label(RichText::new(texts.field).small().weak());
            ui.label(RichText::new(texts.value).small().weak());
            ui.end_row();
            let field = |ui: &mut Ui, name: String, value: i32| {
                ui.label(name);
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.label(mono(value.to_string()));
                });
                ui.end_row();
            };
            field(ui, "Id".to_owned(), data.id);
            field(ui, "Age".to_owned(), data.age);
            for (index, score) in data.scores.iter().enumerate() {
                field(ui, format!("Scores[{index}]"), *score);
            }
        });
}

/// A channel's latest record: a struct as a table of its fields (name, type, value), read
/// through the type description stored with it; bytes as text, or by size.
fn channel_table(ui: &mut Ui, value: &ChannelValue, language: Language) {
    let texts = language.texts();
    let channel = &value.channel;
    let Some(descriptor) = &channel.descriptor else {
        ui.label(
            RichText::new(format!(
                "{} ({})",
                channel.name,
                language.size(value.bytes.len())
            ))
            .strong(),
        );
        let text = match std::str::from_utf8(&value.bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => texts.binary.to_owned(),
        };
        ui.add(egui::Label::new(RichText::new(text).monospace()).wrap());
        return;
    };
    ui.label(RichText::new(format!("{} · {}", channel.name, descriptor.name)).strong());
    let mono = |text: String| RichText::new(text).monospace();
    egui::Grid::new(ui.next_auto_id())
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            ui.label(RichText::new(texts.field).small().weak());
            ui.label(RichText::new(texts.field_type).small().weak());
            ui.label(RichText::new(texts.value).small().weak());
            ui.end_row();
            for field in &descriptor.fields {
                ui.label(&field.name);
                ui.label(RichText::new(field.type_name()).small().weak());
                let mut shown = String::new();
                match field.values(&value.bytes, descriptor.byte_order) {
                    Some(numbers) => {
                        shm_common::schema::format_nested(&mut shown, &field.dimensions, &numbers)
                    }
                    None => shown.push('-'),
                }
                ui.add(egui::Label::new(mono(shown)).wrap());
                ui.end_row();
            }
        });
}

/// What a frame is called in the path box and by screen readers: `frame 95 (1280x720)`.
fn frame_name(info: &FrameInfo) -> String {
    format!("frame {} ({}x{})", info.number, info.width, info.height)
}

fn active_pid(status: WriterStatus) -> Option<u32> {
    match status {
        WriterStatus::Active { pid } => Some(pid),
        _ => None,
    }
}

impl eframe::App for ReaderApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if let Some(max_side) = shm_ui::texture_limit_changed(&ctx, &mut self.max_side_sent) {
            self.worker.send(Command::SetMaxSide(max_side));
        }
        while let Ok(event) = self.worker.events.try_recv() {
            self.apply(&ctx, event);
        }
        self.take_frame(&ctx);
        if self.settings.live {
            self.update_figures();
        }
        let language = self.language();
        let location = self.options.location.clone();

        egui::Panel::top("reader-top").show(ui, |ui| {
            ui.horizontal(|ui| {
                shm_ui::language_picker(ui, &mut self.settings.language);
                ui.separator();
                let (line, is_error) = self.link_line();
                shm_ui::show_line(ui, &line, is_error);
            });
        });
        egui::Panel::bottom("reader-status").show(ui, |ui| {
            if let Some(note) = &self.status.0 {
                shm_ui::show_note(ui, note, language, &location);
            }
        });
        if !self.history.is_empty() {
            egui::Panel::bottom("reader-history").show(ui, |ui| self.history_strip(ui));
        }
        let details_width = (ui.available_width() * DETAILS_SHARE).clamp(160.0, DETAILS_WIDTH);
        egui::Panel::right("reader-details")
            .resizable(false)
            .exact_size(details_width)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.details(ui));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            self.controls(ui);
            ui.separator();
            self.picture_area(ui);
        });
        self.popup(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
