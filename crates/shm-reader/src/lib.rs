//! The Reader window: 咻一下 shows the latest picture and its path, Struct pops up the struct
//! as the original did, and Live shows every new picture and struct as it is sent. It waits for
//! a Writer that is not there yet, and follows a Writer that exits or restarts.

mod worker;

use std::process::ExitCode;
use std::time::Duration;

use egui::{RichText, TextEdit, TextureHandle, TextureOptions, Ui};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shm_common::{ByteSize, Elapsed, SegmentArgs, SegmentLocation, TestData, WriterStatus};
use shm_ui::{EventLog, Language, Status, WindowArgs};

use worker::{Command, Event, Received, WorkerHandle};

/// The window's title, as in the original.
pub const TITLE: &str = "Reader";

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
}

impl Default for ReaderOptions {
    fn default() -> ReaderOptions {
        ReaderOptions {
            location: SegmentLocation::default(),
            events: EventLog::disabled("reader"),
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
        capacity: usize,
        writer: WriterStatus,
        /// A Writer was active at some point: a closed one has "exited" rather than "not come".
        had_writer: bool,
    },
    Failed(String),
}

/// The picture on screen and what is known about it.
struct ShownPicture {
    path: String,
    texture: TextureHandle,
    len: usize,
    width: u32,
    height: u32,
    format: &'static str,
    latency: Duration,
    decode_time: Duration,
    downscaled: bool,
}

/// The Reader app.
pub struct ReaderApp {
    options: ReaderOptions,
    settings: Settings,
    worker: WorkerHandle,
    link: Link,
    picture: Option<ShownPicture>,
    latest_struct: Option<TestData>,
    popup: Option<String>,
    status: Status,
    max_side_sent: Option<u32>,
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
            picture: None,
            latest_struct: None,
            popup: None,
            status: Status::default(),
            max_side_sent: None,
        }
    }

    fn language(&self) -> Language {
        self.settings.language
    }

    fn apply(&mut self, ctx: &egui::Context, event: Event) {
        let language = self.language();
        match event {
            Event::Waiting => self.link = Link::Waiting,
            Event::OpenFailed(message) => self.link = Link::Failed(message),
            Event::Connected {
                capacity,
                writer,
                reconnected,
            } => {
                self.link = Link::Connected {
                    capacity,
                    writer,
                    had_writer: matches!(writer, WriterStatus::Active { .. }),
                };
                if reconnected {
                    self.status = Status::info(language.reconnected(active_pid(writer)));
                }
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
                self.status = Status::default();
            }
            Event::Picture(received) => self.show_picture(ctx, *received),
            Event::NoPicture => self.status = Status::error(language.texts().no_picture),
            Event::Struct { data, clicked } => {
                if data.is_some() {
                    self.latest_struct = data;
                }
                if clicked {
                    let text = data.map_or_else(
                        || language.texts().no_struct.to_owned(),
                        |data| data.to_string(),
                    );
                    self.options.events.record("popup", json!({ "text": text }));
                    self.popup = Some(text);
                }
            }
            Event::ReadFailed(message) => self.status = Status::error(language.failed(&message)),
            Event::NotConnected => {
                self.status = Status::error(language.no_writer_yet(&self.options.location));
            }
        }
    }

    fn show_picture(&mut self, ctx: &egui::Context, received: Received) {
        let language = self.language();
        match received.decoded {
            Ok(mut decoded) => {
                // The limit can change (another monitor) while the worker decodes.
                decoded.fit_within(shm_ui::max_texture_side(ctx));
                let format = shm_picture::format_name(decoded.format);
                self.options.events.record(
                    "shown",
                    json!({
                        "path": received.path,
                        "len": received.len,
                        "sequence": received.sequence,
                        "width": decoded.width,
                        "height": decoded.height,
                        "format": format,
                        "downscaled": decoded.downscaled,
                    }),
                );
                let texture = ctx.load_texture(
                    "reader-picture",
                    shm_ui::to_color_image(&decoded),
                    TextureOptions::LINEAR,
                );
                self.picture = Some(ShownPicture {
                    path: received.path,
                    texture,
                    len: received.len,
                    width: decoded.width,
                    height: decoded.height,
                    format,
                    latency: received.latency,
                    decode_time: decoded.decode_time,
                    downscaled: decoded.downscaled,
                });
                self.status = Status::default();
            }
            Err(err) => {
                let message = language.not_a_picture(&received.path, &err.to_string());
                self.options
                    .events
                    .record("error", json!({ "message": message }));
                self.status = Status::error(message);
            }
        }
    }

    fn link_status(&self) -> Status {
        let language = self.language();
        let location = &self.options.location;
        match &self.link {
            Link::Waiting => Status::info(language.waiting(location)),
            Link::Failed(message) => Status::error(language.failed(message)),
            Link::Connected {
                capacity,
                writer,
                had_writer,
            } => match writer {
                WriterStatus::Active { pid } => {
                    Status::info(language.connected(location, *capacity, Some(*pid)))
                }
                WriterStatus::Closed if !had_writer => {
                    Status::info(language.connected(location, *capacity, None))
                }
                WriterStatus::Closed => Status::error(language.writer_exited()),
                WriterStatus::Crashed { pid } => Status::error(language.writer_crashed(*pid)),
            },
        }
    }

    fn controls(&mut self, ui: &mut Ui) {
        let texts = self.language().texts();
        ui.horizontal(|ui| {
            if ui.button(texts.whoosh).clicked() {
                self.worker.send(Command::ReadImage);
            }
            if ui.button(texts.struct_button).clicked() {
                self.worker.send(Command::ReadStruct);
            }
            if ui.checkbox(&mut self.settings.live, texts.live).changed() {
                self.worker.send(Command::SetLive(self.settings.live));
            }
            ui.checkbox(&mut self.settings.stretch, texts.stretch);
        });
        ui.horizontal(|ui| {
            let label = ui.label(texts.picture_path);
            let mut path = self
                .picture
                .as_ref()
                .map_or("", |picture| picture.path.as_str());
            ui.add(TextEdit::singleline(&mut path).desired_width(f32::INFINITY))
                .labelled_by(label.id);
        });
    }

    fn details(&self, ui: &mut Ui) {
        let texts = self.language().texts();
        egui::Grid::new("reader-details")
            .num_columns(2)
            .show(ui, |ui| {
                if let Some(picture) = &self.picture {
                    let rows = [
                        (
                            texts.size,
                            format!(
                                "{} {} ({})",
                                picture.len,
                                texts.bytes,
                                ByteSize(picture.len)
                            ),
                        ),
                        (
                            texts.pixels,
                            format!("{} × {}", picture.width, picture.height),
                        ),
                        (texts.format, picture.format.to_owned()),
                        (texts.latency, Elapsed(picture.latency).to_string()),
                        (texts.decode_time, Elapsed(picture.decode_time).to_string()),
                    ];
                    for (name, value) in rows {
                        ui.label(RichText::new(name).strong());
                        ui.label(value);
                        ui.end_row();
                    }
                    if picture.downscaled {
                        ui.label("");
                        ui.label(texts.downscaled);
                        ui.end_row();
                    }
                }
                if let Some(data) = &self.latest_struct {
                    ui.label(RichText::new(texts.latest_struct).strong());
                    ui.label(data.to_string());
                    ui.end_row();
                }
            });
    }

    fn popup(&mut self, ctx: &egui::Context) {
        let Some(text) = &self.popup else {
            return;
        };
        let ok = self.language().texts().ok;
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("reader-struct-popup")).show(ctx, |ui| {
            ui.set_min_width(280.0);
            ui.label(text);
            ui.add_space(8.0);
            ui.vertical_centered(|ui| {
                close = ui.button(ok).clicked();
            });
        });
        if close || modal.should_close() {
            self.popup = None;
        }
    }
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
        let max_side = shm_ui::max_texture_side(&ctx);
        if self.max_side_sent != Some(max_side) {
            self.worker.send(Command::SetMaxSide(max_side));
            self.max_side_sent = Some(max_side);
        }
        while let Ok(event) = self.worker.events.try_recv() {
            self.apply(&ctx, event);
        }

        egui::Panel::top("reader-top").show(ui, |ui| {
            ui.horizontal(|ui| {
                shm_ui::language_picker(ui, &mut self.settings.language);
                ui.separator();
                shm_ui::show_status(ui, &self.link_status());
            });
        });
        egui::Panel::bottom("reader-status").show(ui, |ui| shm_ui::show_status(ui, &self.status));
        egui::Panel::right("reader-details").show(ui, |ui| self.details(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            self.controls(ui);
            ui.separator();
            let texts = self.language().texts();
            match &self.picture {
                Some(picture) => {
                    shm_ui::picture_view(
                        ui,
                        &picture.texture,
                        self.settings.stretch,
                        &picture.path,
                    );
                }
                None => {
                    ui.centered_and_justified(|ui| ui.label(texts.reader_empty));
                }
            }
        });
        self.popup(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
