//! The Writer window: choose a picture (Browse…, a typed path, drag and drop or the command
//! line), see it, and send its path and original bytes with 咻一下; edit and send the struct
//! with Struct. Every outcome, good or bad, is a sentence in the status line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use egui::{Key, TextEdit, TextureHandle, TextureOptions, Ui};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use shm_common::{
    Capacity, CapacityArgs, CreationMode, OpenError, SegmentArgs, SegmentLocation, SendError,
    TestData, Writer, suggest_capacity,
};
use shm_ui::{EventLog, Language, Status, WindowArgs};

/// The window's title, as in the original.
pub const TITLE: &str = "Writer";

/// A file dialog that answers sooner than this was not shown to a person: there is no dialog
/// backend (no desktop portal, no zenity) on this system.
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(300);

/// The Writer's command line.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "shm-writer",
    version,
    about = "The Writer window: pick a picture and send it with 咻一下, or send the struct"
)]
pub struct Args {
    /// A picture to open at start.
    pub picture: Option<PathBuf>,
    /// Which segment: `--name` or `--file`.
    #[command(flatten)]
    pub segment: SegmentArgs,
    /// `--capacity`.
    #[command(flatten)]
    pub capacity: CapacityArgs,
    /// `--events` and `--position`.
    #[command(flatten)]
    pub window: WindowArgs,
}

/// Opens the Writer window and runs it until it is closed.
pub fn run(args: Args) -> ExitCode {
    let events = match args.window.event_log("writer") {
        Ok(events) => events,
        Err(message) => {
            eprintln!("shm-writer: {message}");
            return ExitCode::FAILURE;
        }
    };
    let options = WriterOptions {
        location: args.segment.location(),
        capacity: args.capacity.capacity(),
        picture: args.picture,
        events,
    };
    args.window
        .run(TITLE, "shm-writer", |cc| WriterApp::new(cc, options))
}

/// What the Writer is started with (its command-line flags).
#[derive(Clone)]
pub struct WriterOptions {
    /// The segment to write to.
    pub location: SegmentLocation,
    /// The capacity to ask for.
    pub capacity: Capacity,
    /// A picture to open at start.
    pub picture: Option<PathBuf>,
    /// Where to log what happens (`--events`).
    pub events: EventLog,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions {
            location: SegmentLocation::default(),
            capacity: Capacity::Default,
            picture: None,
            events: EventLog::disabled("writer"),
        }
    }
}

/// What the Writer remembers between runs.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Settings {
    language: Language,
    stretch: bool,
}

/// A picture that was read and decoded, ready to send.
struct LoadedPicture {
    /// The full path, as sent.
    path: String,
    /// The file's bytes, sent unchanged.
    bytes: Vec<u8>,
    texture: TextureHandle,
}

/// The struct editor's text fields.
struct StructFields {
    id: String,
    age: String,
    scores: [String; 10],
}

impl Default for StructFields {
    fn default() -> StructFields {
        let data = TestData::default();
        StructFields {
            id: data.id.to_string(),
            age: data.age.to_string(),
            scores: data.scores.map(|score| score.to_string()),
        }
    }
}

impl StructFields {
    fn score_label(index: usize) -> String {
        format!("Scores[{index}]")
    }

    fn parse(&self, language: Language) -> Result<TestData, String> {
        let number = |text: &str, field: &str| {
            text.trim()
                .parse::<i32>()
                .map_err(|_| language.field_invalid(field))
        };
        let mut data = TestData {
            id: number(&self.id, "Id")?,
            age: number(&self.age, "Age")?,
            scores: [0; 10],
        };
        for (index, (score, text)) in data.scores.iter_mut().zip(&self.scores).enumerate() {
            *score = number(text, &Self::score_label(index))?;
        }
        Ok(data)
    }
}

/// A file dialog running on its own thread.
struct PendingDialog {
    answer: Receiver<Option<PathBuf>>,
    opened: Instant,
}

/// The Writer app.
pub struct WriterApp {
    options: WriterOptions,
    settings: Settings,
    writer: Option<Writer>,
    connect_error: Option<OpenError>,
    path_input: String,
    picture: Option<LoadedPicture>,
    fields: StructFields,
    status: Status,
    dialog: Option<PendingDialog>,
    no_dialog: bool,
}

impl WriterApp {
    /// Builds the app: installs the CJK font, restores the settings, attaches to the segment
    /// and opens the picture given on the command line.
    pub fn new(cc: &eframe::CreationContext<'_>, options: WriterOptions) -> WriterApp {
        shm_ui::install_cjk_font(&cc.egui_ctx);
        let settings = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, eframe::APP_KEY))
            .unwrap_or_default();
        let mut app = WriterApp {
            options,
            settings,
            writer: None,
            connect_error: None,
            path_input: String::new(),
            picture: None,
            fields: StructFields::default(),
            status: Status::default(),
            dialog: None,
            no_dialog: false,
        };
        app.connect();
        if let Some(path) = app.options.picture.clone() {
            app.open(&cc.egui_ctx, &path);
        }
        app
    }

    fn language(&self) -> Language {
        self.settings.language
    }

    /// Attaches to the segment if not attached yet; false (with the reason kept) on failure.
    fn connect(&mut self) -> bool {
        if self.writer.is_some() {
            return true;
        }
        match Writer::create(
            &self.options.location,
            CreationMode::CreateOrOpen,
            self.options.capacity,
        ) {
            Ok(writer) => {
                self.options.events.record(
                    "attached",
                    json!({ "segment": writer.location().to_string(), "capacity": writer.capacity() }),
                );
                self.writer = Some(writer);
                self.connect_error = None;
                true
            }
            Err(err) => {
                self.options
                    .events
                    .record("error", json!({ "message": err.to_string() }));
                self.connect_error = Some(err);
                false
            }
        }
    }

    /// Attaches if needed; on failure puts the reason in the status line.
    fn connect_or_say_why(&mut self) -> bool {
        if self.connect() {
            return true;
        }
        let message = self
            .connect_error
            .as_ref()
            .map(|err| self.open_error_text(err));
        self.fail(message.unwrap_or_default());
        false
    }

    fn open_error_text(&self, err: &OpenError) -> String {
        match err {
            OpenError::WriterActive { pid, .. } => {
                self.language().writer_active(*pid, &self.options.location)
            }
            other => self.language().failed(&other.to_string()),
        }
    }

    fn fail(&mut self, message: String) {
        self.options
            .events
            .record("error", json!({ "message": message }));
        self.status = Status::error(message);
    }

    /// Reads and decodes a picture file; on failure the previous picture stays.
    fn open(&mut self, ctx: &egui::Context, path: &Path) {
        let language = self.language();
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        self.path_input = path.display().to_string();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) => {
                let message = match err.kind() {
                    std::io::ErrorKind::NotFound => language.file_missing(&path),
                    std::io::ErrorKind::IsADirectory => language.is_directory(&path),
                    _ => language.cannot_read(&path, &err.to_string()),
                };
                return self.fail(message);
            }
        };
        let path_text = path.to_string_lossy().into_owned();
        let decoded = match shm_picture::decode(&bytes, shm_ui::max_texture_side(ctx)) {
            Ok(decoded) => decoded,
            Err(err) => return self.fail(language.not_a_picture(&path_text, &err.to_string())),
        };
        let format = shm_picture::format_name(decoded.format);
        let texture = ctx.load_texture(
            "writer-picture",
            shm_ui::to_color_image(&decoded),
            TextureOptions::LINEAR,
        );
        self.status = Status::info(language.loaded(
            &path,
            bytes.len(),
            decoded.width,
            decoded.height,
            format,
        ));
        self.options.events.record(
            "loaded",
            json!({
                "path": path_text,
                "len": bytes.len(),
                "width": decoded.width,
                "height": decoded.height,
                "format": format,
            }),
        );
        self.picture = Some(LoadedPicture {
            path: path_text,
            bytes,
            texture,
        });
    }

    /// 咻一下: sends the loaded picture's path and bytes.
    fn send_picture(&mut self) {
        let language = self.language();
        if self.picture.is_none() {
            return self.fail(language.texts().choose_first.to_owned());
        }
        if !self.connect_or_say_why() {
            return;
        }
        let (Some(writer), Some(picture)) = (self.writer.as_mut(), self.picture.as_ref()) else {
            return;
        };
        let started = Instant::now();
        match writer.send_image(&picture.path, &picture.bytes) {
            Ok(meta) => {
                let took_ms = started.elapsed().as_secs_f64() * 1e3;
                self.status = Status::info(language.sent_picture(
                    &picture.path,
                    picture.bytes.len(),
                    took_ms,
                    meta.sequence,
                ));
                self.options.events.record(
                    "sent",
                    json!({
                        "kind": "image",
                        "path": picture.path,
                        "len": picture.bytes.len(),
                        "sha256": hex(&Sha256::digest(&picture.bytes)),
                        "sequence": meta.sequence,
                    }),
                );
            }
            Err(err) => {
                let message = self.send_error_text(&err);
                self.fail(message);
            }
        }
    }

    fn send_error_text(&self, err: &SendError) -> String {
        match err {
            SendError::TooLarge { size, capacity, .. } => self.language().too_large(
                *size,
                *capacity,
                &self.options.location,
                &suggest_capacity(*size),
            ),
            other => self.language().failed(&other.to_string()),
        }
    }

    /// Struct: sends the edited fields.
    fn send_struct(&mut self) {
        let language = self.language();
        let data = match self.fields.parse(language) {
            Ok(data) => data,
            Err(message) => return self.fail(message),
        };
        if !self.connect_or_say_why() {
            return;
        }
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        match writer.send_struct(&data) {
            Ok(meta) => {
                self.status = Status::info(language.sent_struct(&data.to_string()));
                self.options.events.record(
                    "sent",
                    json!({ "kind": "struct", "text": data.to_string(), "sequence": meta.sequence }),
                );
            }
            Err(err) => {
                let message = self.send_error_text(&err);
                self.fail(message);
            }
        }
    }

    /// Browse…: opens the native file dialog on its own thread, so the window stays live.
    fn browse(&mut self, ctx: &egui::Context) {
        if self.dialog.is_some() {
            return;
        }
        let texts = self.language().texts();
        let dialog = rfd::FileDialog::new()
            .set_title(texts.dialog_title)
            .add_filter(texts.filter_png, &["png"])
            .add_filter(texts.filter_jpeg, &["jpg", "jpeg"])
            .add_filter(texts.filter_all, &shm_picture::readable_extensions());
        let (answer, receiver) = mpsc::channel();
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            // The window may be gone by the time the person picks a file: nothing to tell then.
            let _ = answer.send(dialog.pick_file());
            ctx.request_repaint();
        });
        self.dialog = Some(PendingDialog {
            answer: receiver,
            opened: Instant::now(),
        });
    }

    fn poll_dialog(&mut self, ctx: &egui::Context) {
        let Some(dialog) = &self.dialog else {
            return;
        };
        let answer = match dialog.answer.try_recv() {
            Ok(answer) => answer,
            Err(TryRecvError::Empty) => {
                ctx.request_repaint_after(shm_ui::POLL_INTERVAL);
                return;
            }
            Err(TryRecvError::Disconnected) => None,
        };
        let too_fast_for_a_person = dialog.opened.elapsed() < NO_DIALOG_WITHIN;
        self.dialog = None;
        match answer {
            Some(path) => self.open(ctx, &path),
            None if too_fast_for_a_person => {
                self.no_dialog = true;
                self.options.events.record(
                    "no_dialog",
                    json!({ "message": self.language().texts().no_dialog }),
                );
            }
            None => {}
        }
    }

    fn take_dropped_file(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|input| {
            input
                .raw
                .dropped_files
                .iter()
                .map(|file| file.path().to_path_buf())
                .find(|path| !path.as_os_str().is_empty())
        });
        if let Some(path) = dropped {
            self.open(ctx, &path);
        }
    }

    fn top_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            shm_ui::language_picker(ui, &mut self.settings.language);
            ui.separator();
            let line = match (&self.writer, &self.connect_error) {
                (Some(writer), _) => Status::info(
                    self.language()
                        .writer_segment(writer.location(), writer.capacity()),
                ),
                (None, Some(err)) => Status::error(self.open_error_text(err)),
                (None, None) => Status::default(),
            };
            shm_ui::show_status(ui, &line);
        });
    }

    fn path_row(&mut self, ui: &mut Ui) {
        let texts = self.language().texts();
        ui.horizontal(|ui| {
            if ui.button(texts.browse).clicked() {
                self.browse(ui.ctx());
            }
            let label = ui.label(texts.picture_path);
            let open_width = 60.0;
            let edit = TextEdit::singleline(&mut self.path_input)
                .desired_width(ui.available_width() - open_width)
                .hint_text("/path/to/picture.png");
            let response = ui.add(edit).labelled_by(label.id);
            let entered = response.lost_focus() && ui.input(|input| input.key_pressed(Key::Enter));
            if (ui.button(texts.open).clicked() || entered) && !self.path_input.trim().is_empty() {
                let path = PathBuf::from(self.path_input.trim());
                self.open(ui.ctx(), &path);
            }
        });
    }

    fn struct_editor(&mut self, ui: &mut Ui) {
        let language = self.language();
        ui.heading(language.texts().struct_heading);
        egui::Grid::new("struct-fields")
            .num_columns(2)
            .show(ui, |ui| {
                let field = |ui: &mut Ui, name: &str, value: &mut String| {
                    let label = ui.label(name);
                    ui.add(TextEdit::singleline(value).desired_width(90.0))
                        .labelled_by(label.id);
                    ui.end_row();
                };
                field(ui, "Id", &mut self.fields.id);
                field(ui, "Age", &mut self.fields.age);
                for (index, score) in self.fields.scores.iter_mut().enumerate() {
                    field(ui, &StructFields::score_label(index), score);
                }
            });
        ui.add_space(6.0);
        if ui.button(language.texts().struct_button).clicked() {
            self.send_struct();
        }
    }

    fn picture_area(&mut self, ui: &mut Ui) {
        let texts = self.language().texts();
        let hovering = ui.ctx().input(|input| !input.raw.hovered_files.is_empty());
        match &self.picture {
            _ if hovering => {
                ui.centered_and_justified(|ui| ui.heading(texts.drop_here));
            }
            Some(picture) => {
                shm_ui::picture_view(ui, &picture.texture, self.settings.stretch, &picture.path);
            }
            None => {
                ui.centered_and_justified(|ui| ui.label(texts.writer_empty));
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl eframe::App for WriterApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.poll_dialog(&ctx);
        self.take_dropped_file(&ctx);

        egui::Panel::top("writer-top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("writer-status").show(ui, |ui| {
            if self.no_dialog {
                shm_ui::show_status(ui, &Status::error(self.language().texts().no_dialog));
            }
            shm_ui::show_status(ui, &self.status);
        });
        egui::Panel::right("writer-struct").show(ui, |ui| self.struct_editor(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            self.path_row(ui);
            let texts = self.language().texts();
            ui.horizontal(|ui| {
                if ui.button(texts.whoosh).clicked() {
                    self.send_picture();
                }
                ui.checkbox(&mut self.settings.stretch, texts.stretch);
            });
            ui.separator();
            self.picture_area(ui);
        });
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
