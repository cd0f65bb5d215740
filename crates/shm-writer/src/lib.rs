//! The Writer window: choose a picture (Browse… or Ctrl+O, a typed or pasted path, drag and
//! drop, or the command line), see it, and send its path and bytes with 咻一下; edit and send
//! the struct with Struct; stream frames live. The path box, the preview and 咻一下 always
//! refer to one current picture. Every outcome, good or bad, is a sentence in the status line.

mod dialog;
mod paths;
mod worker;

pub use dialog::DialogChoice;
pub use paths::parse_path_input;
pub use worker::ASK_BEYOND;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use egui::{Key, Modifiers, RichText, TextEdit, Ui};
use serde::{Deserialize, Serialize};
use shm_common::{
    Capacity, CapacityArgs, CreateError, Growth, SegmentArgs, SegmentLocation, TestData,
};
use shm_ui::{
    Companion, EventLog, Language, Note, PictureTextures, PictureView, Status, WindowArgs,
};

use dialog::{DialogAnswer, FileDialogs};
use worker::{Command, Event, StreamSource, WorkerHandle};

/// The window's title, as in the original.
pub const TITLE: &str = "Writer";
/// Width of the struct editor: every field fits any i32.
const EDITOR_WIDTH: f32 = 230.0;
/// Frame sizes offered for the test pattern.
const PATTERN_SIZES: [(u32, u32); 3] = [(640, 360), (1280, 720), (1920, 1080)];

/// The Writer's command line.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "shm-writer",
    version,
    about = "The Writer window: pick a picture and send it with 咻一下, send the struct, or stream frames"
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
        dialog: DialogChoice::Detect,
        companion: args.window.companion(),
        ask_beyond: ASK_BEYOND,
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
    /// Which file dialog Browse… opens.
    pub dialog: DialogChoice,
    /// Asks the launcher that started this window to reopen the Reader, if one did.
    pub companion: Option<Companion>,
    /// Growing the segment past this many bytes in all asks first ([`ASK_BEYOND`]).
    pub ask_beyond: usize,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions {
            location: SegmentLocation::default(),
            capacity: Capacity::Default,
            picture: None,
            events: EventLog::disabled("writer"),
            dialog: DialogChoice::Detect,
            companion: None,
            ask_beyond: ASK_BEYOND,
        }
    }
}

/// What a stream sends, as chosen in the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
enum SourceChoice {
    #[default]
    Pattern,
    Picture,
    Folder,
}

/// What the Writer remembers between runs.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(default)]
struct Settings {
    language: Language,
    stretch: bool,
    source: SourceChoice,
    pattern_size: (u32, u32),
    fps: f64,
    as_fast_as_possible: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            language: Language::default(),
            stretch: false,
            source: SourceChoice::Pattern,
            pattern_size: (1280, 720),
            fps: 30.0,
            as_fast_as_possible: false,
        }
    }
}

/// The one current picture: what the path box names, the preview shows and 咻一下 sends.
enum Current {
    /// None chosen yet.
    Empty,
    /// Being read and decoded.
    Loading,
    /// Read and decoded.
    Ready(LoadedPicture),
    /// The last one chosen could not be opened: nothing to send.
    Failed { note: Note },
}

/// A picture that was read and decoded, ready to send.
struct LoadedPicture {
    path: PathBuf,
    textures: PictureTextures,
}

/// Why a struct field is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldError {
    Empty,
    NotANumber,
    OutOfRange,
}

impl FieldError {
    fn words(self, language: Language) -> &'static str {
        match (self, language) {
            (FieldError::Empty, Language::Chinese) => "请填写一个整数",
            (FieldError::NotANumber, Language::Chinese) => "不是整数",
            (FieldError::OutOfRange, Language::Chinese) => "超出 -2147483648 到 2147483647",
            (FieldError::Empty, Language::English) => "enter a whole number",
            (FieldError::NotANumber, Language::English) => "not a whole number",
            (FieldError::OutOfRange, Language::English) => "outside -2147483648 to 2147483647",
        }
    }
}

/// The struct editor's twelve text fields: Id, Age, Scores[0..9].
struct StructFields {
    texts: [String; 12],
}

impl Default for StructFields {
    fn default() -> StructFields {
        let data = TestData::default();
        let mut texts: [String; 12] = Default::default();
        texts[0] = data.id.to_string();
        texts[1] = data.age.to_string();
        for (text, score) in texts[2..].iter_mut().zip(data.scores) {
            *text = score.to_string();
        }
        StructFields { texts }
    }
}

impl StructFields {
    fn label(index: usize) -> String {
        match index {
            0 => "Id".to_owned(),
            1 => "Age".to_owned(),
            score => format!("Scores[{}]", score - 2),
        }
    }

    fn check(text: &str) -> Result<i32, FieldError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(FieldError::Empty);
        }
        match text.parse::<i128>() {
            Ok(value) => i32::try_from(value).map_err(|_| FieldError::OutOfRange),
            Err(_) => Err(FieldError::NotANumber),
        }
    }

    /// The struct, or every field's own error.
    fn parse(&self) -> Result<TestData, [Option<FieldError>; 12]> {
        let values = self.texts.each_ref().map(|text| Self::check(text));
        if values.iter().all(Result::is_ok) {
            let value = |index: usize| values[index].unwrap_or_default();
            return Ok(TestData {
                id: value(0),
                age: value(1),
                scores: std::array::from_fn(|index| value(index + 2)),
            });
        }
        Err(values.map(Result::err))
    }
}

/// A stream the worker is sending.
struct RunningStream {
    width: u32,
    height: u32,
    frames: u64,
    frames_per_second: f64,
}

/// The segment, as the worker last told.
enum SegmentState {
    Connecting,
    Connected { total_size: usize },
    Failed(Arc<CreateError>),
}

/// The Writer app.
pub struct WriterApp {
    options: WriterOptions,
    settings: Settings,
    worker: WorkerHandle,
    segment: SegmentState,
    path_input: String,
    current: Current,
    fields: StructFields,
    field_errors: [Option<FieldError>; 12],
    status: Status,
    dialogs: FileDialogs,
    view: PictureView,
    ask_grow: Option<(Growth, usize)>,
    stream: Option<RunningStream>,
    max_side_sent: Option<u32>,
}

impl WriterApp {
    /// Builds the app: installs the CJK font, restores the settings, starts the worker that
    /// attaches to the segment, and opens the picture given on the command line.
    pub fn new(cc: &eframe::CreationContext<'_>, options: WriterOptions) -> WriterApp {
        shm_ui::install_cjk_font(&cc.egui_ctx);
        let settings = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, eframe::APP_KEY))
            .unwrap_or_default();
        let worker = worker::spawn(
            options.location.clone(),
            options.capacity,
            options.ask_beyond,
            cc.egui_ctx.clone(),
            options.events.clone(),
        );
        // Before the first frame: a picture named on the command line is opened at once.
        let mut max_side_sent = None;
        if let Some(max_side) = shm_ui::texture_limit_changed(&cc.egui_ctx, &mut max_side_sent) {
            worker.send(Command::SetMaxSide(max_side));
        }
        let mut app = WriterApp {
            options,
            settings,
            worker,
            segment: SegmentState::Connecting,
            path_input: String::new(),
            current: Current::Empty,
            fields: StructFields::default(),
            field_errors: [None; 12],
            status: Status::default(),
            dialogs: FileDialogs::default(),
            view: PictureView::default(),
            ask_grow: None,
            stream: None,
            max_side_sent,
        };
        if let Some(path) = app.options.picture.clone() {
            let path = parse_path_input(&path.to_string_lossy(), None).unwrap_or(path);
            app.open(path);
        }
        app
    }

    fn language(&self) -> Language {
        self.settings.language
    }

    /// Makes `path` the current picture (read and decoded by the worker).
    fn open(&mut self, path: PathBuf) {
        self.path_input = path.display().to_string();
        self.current = Current::Loading;
        self.worker.send(Command::Open(path));
    }

    /// The path the path box names now.
    fn typed_path(&self) -> Option<PathBuf> {
        parse_path_input(&self.path_input, paths::home_dir().as_deref())
    }

    fn apply(&mut self, ctx: &egui::Context, event: Event) {
        match event {
            Event::Connected { total_size } => {
                self.segment = SegmentState::Connected { total_size };
            }
            Event::ConnectFailed(error) => {
                let error = Arc::new(error);
                self.status.set(Note::Create(Arc::clone(&error)));
                self.segment = SegmentState::Failed(error);
            }
            Event::Opened(opened) => {
                let (width, height) = opened.decoded.shown_size();
                self.status.set(Note::Opened {
                    path: opened.path.clone(),
                    len: opened.len,
                    width,
                    height,
                    format: shm_picture::format_name(opened.decoded.format),
                    frames: opened.decoded.frames.len(),
                });
                self.current = Current::Ready(LoadedPicture {
                    textures: PictureTextures::load(ctx, "writer-picture", &opened.decoded),
                    path: opened.path,
                });
                self.view.fit();
            }
            Event::OpenFailed { path, note } => {
                self.path_input = path.display().to_string();
                self.status.set(note.clone());
                self.current = Current::Failed { note };
            }
            Event::Done(note) | Event::Failed(note) => self.status.set(note),
            Event::AskGrow { growth, size } => self.ask_grow = Some((growth, size)),
            Event::Grown { total_size, kind } => {
                self.segment = SegmentState::Connected { total_size };
                self.status.set(Note::Grown { total_size, kind });
            }
            Event::StreamStarted { width, height } => {
                self.stream = Some(RunningStream {
                    width,
                    height,
                    frames: 0,
                    frames_per_second: 0.0,
                });
            }
            Event::StreamProgress {
                frames,
                frames_per_second,
            } => {
                if let Some(stream) = &mut self.stream {
                    stream.frames = frames;
                    stream.frames_per_second = frames_per_second;
                }
            }
            Event::StreamStopped { frames, elapsed } => {
                self.stream = None;
                if !self.status.0.as_ref().is_some_and(Note::is_error) {
                    self.status.set(Note::StreamStopped { frames, elapsed });
                }
            }
        }
    }

    /// 咻一下: sends the file the path box names, as it is on disk now.
    fn send_picture(&mut self) {
        match self.typed_path() {
            Some(path) => {
                self.path_input = path.display().to_string();
                if !matches!(&self.current, Current::Ready(picture) if picture.path == path) {
                    self.current = Current::Loading;
                }
                self.worker.send(Command::Send(path));
            }
            None => self.status.set(Note::NotSent(Box::new(Note::ChooseFirst))),
        }
    }

    /// Struct: sends the edited fields, or outlines every invalid one.
    fn send_struct(&mut self) {
        match self.fields.parse() {
            Ok(data) => {
                self.field_errors = [None; 12];
                self.worker.send(Command::SendStruct(data));
            }
            Err(errors) => {
                let count = errors.iter().flatten().count();
                self.field_errors = errors;
                self.status.set(Note::FieldsInvalid { count });
            }
        }
    }

    /// Browse… or Ctrl+O: the file dialog, in the current picture's folder.
    fn browse(&mut self, ctx: &egui::Context) {
        let folder = self
            .typed_path()
            .and_then(|path| path.parent().map(Path::to_path_buf));
        self.dialogs.open(
            ctx,
            &self.options.dialog,
            self.language(),
            folder.as_deref(),
        );
    }

    fn poll_dialog(&mut self, ctx: &egui::Context) {
        match self.dialogs.poll(ctx) {
            Some(DialogAnswer::Picked(path)) => self.open(path),
            Some(DialogAnswer::Failed(error)) => {
                self.status.set(Note::DialogFailed(Arc::new(error)));
            }
            Some(DialogAnswer::Cancelled) | None => {}
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
            self.open(std::path::absolute(&path).unwrap_or(path));
        }
    }

    fn top_bar(&mut self, ui: &mut Ui) -> Option<Action> {
        let language = self.language();
        let mut action = None;
        ui.horizontal_wrapped(|ui| {
            shm_ui::language_picker(ui, &mut self.settings.language);
            ui.separator();
            match &self.segment {
                SegmentState::Connecting => {}
                SegmentState::Connected { total_size, .. } => shm_ui::show_line(
                    ui,
                    &language.writer_segment(&self.options.location, *total_size),
                    false,
                ),
                SegmentState::Failed(error) => shm_ui::show_line(
                    ui,
                    &language.create_error(error, &self.options.location),
                    true,
                ),
            }
            if self.options.companion.is_some() && ui.button(language.texts().open_reader).clicked()
            {
                action = Some(Action::OpenReader);
            }
        });
        action
    }

    fn path_row(&mut self, ui: &mut Ui) -> Option<Action> {
        let texts = self.language().texts();
        let mut action = None;
        ui.horizontal(|ui| {
            if ui.button(texts.browse).clicked() {
                action = Some(Action::Browse);
            }
            let label = ui.label(texts.picture_path);
            let open_width = 60.0;
            let edit = TextEdit::singleline(&mut self.path_input)
                .desired_width(ui.available_width() - open_width)
                .hint_text("/path/to/picture.png");
            let response = ui.add(edit).labelled_by(label.id);
            let entered = response.lost_focus() && ui.input(|input| input.key_pressed(Key::Enter));
            if ui.button(texts.open).clicked() || entered {
                action = Some(Action::OpenTyped);
            }
        });
        action
    }

    fn stream_controls(&mut self, ui: &mut Ui) -> Option<Action> {
        let language = self.language();
        let texts = language.texts();
        let zh = language == Language::Chinese;
        let mut action = None;
        egui::CollapsingHeader::new(texts.stream_heading)
            .id_salt("writer-stream")
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.label(texts.stream_source);
                    let source = &mut self.settings.source;
                    ui.radio_value(source, SourceChoice::Pattern, texts.stream_pattern);
                    ui.radio_value(source, SourceChoice::Picture, texts.stream_picture);
                    ui.radio_value(source, SourceChoice::Folder, texts.stream_folder);
                });
                ui.horizontal_wrapped(|ui| {
                    if self.settings.source == SourceChoice::Pattern {
                        ui.label(texts.stream_size);
                        for size in PATTERN_SIZES {
                            let text = format!("{}×{}", size.0, size.1);
                            ui.selectable_value(&mut self.settings.pattern_size, size, text);
                        }
                    }
                    ui.label(texts.stream_rate);
                    ui.add_enabled(
                        !self.settings.as_fast_as_possible,
                        egui::DragValue::new(&mut self.settings.fps)
                            .range(1.0..=480.0)
                            .suffix(if zh { " 帧/秒" } else { " fps" }),
                    );
                    ui.checkbox(&mut self.settings.as_fast_as_possible, texts.stream_max);
                    match &self.stream {
                        None => {
                            if ui.button(texts.stream_start).clicked() {
                                action = Some(Action::StartStream);
                            }
                        }
                        Some(_) => {
                            if ui.button(texts.stream_stop).clicked() {
                                action = Some(Action::StopStream);
                            }
                        }
                    }
                });
                if let Some(stream) = &self.stream {
                    let line = if zh {
                        format!(
                            "正在推流 {}×{}：已发送 {} 帧，每秒 {:.0} 帧",
                            stream.width, stream.height, stream.frames, stream.frames_per_second
                        )
                    } else {
                        format!(
                            "streaming {}×{}: {} frames sent, {:.0} frames/s",
                            stream.width, stream.height, stream.frames, stream.frames_per_second
                        )
                    };
                    ui.label(line);
                }
            });
        action
    }

    fn start_stream(&mut self) {
        let source = match self.settings.source {
            SourceChoice::Pattern => {
                let (width, height) = self.settings.pattern_size;
                StreamSource::Pattern { width, height }
            }
            SourceChoice::Picture => match self.typed_path() {
                Some(path) => StreamSource::Paths(vec![path]),
                None => return self.status.set(Note::ChooseFirst),
            },
            SourceChoice::Folder => match self
                .typed_path()
                .and_then(|path| path.parent().map(Path::to_path_buf))
            {
                Some(folder) => StreamSource::Paths(vec![folder]),
                None => return self.status.set(Note::ChooseFirst),
            },
        };
        let fps = if self.settings.as_fast_as_possible {
            0.0
        } else {
            self.settings.fps
        };
        self.worker.send(Command::StartStream { source, fps });
    }

    fn struct_editor(&mut self, ui: &mut Ui) -> Option<Action> {
        let language = self.language();
        let texts = language.texts();
        let mut action = None;
        ui.heading(texts.struct_heading);
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("struct-fields")
                .num_columns(2)
                .show(ui, |ui| {
                    for (index, text) in self.fields.texts.iter_mut().enumerate() {
                        let error = self.field_errors[index];
                        let label = ui.label(StructFields::label(index));
                        ui.vertical(|ui| {
                            let mut edit = TextEdit::singleline(text)
                                .desired_width(120.0)
                                .font(egui::TextStyle::Monospace);
                            if error.is_some() {
                                edit = edit.background_color(
                                    ui.visuals().error_fg_color.gamma_multiply(0.15),
                                );
                            }
                            let response = ui.add(edit).labelled_by(label.id);
                            if let Some(error) = error {
                                ui.painter().rect_stroke(
                                    response.rect,
                                    2.0,
                                    egui::Stroke::new(1.5, ui.visuals().error_fg_color),
                                    egui::StrokeKind::Outside,
                                );
                                ui.label(
                                    RichText::new(error.words(language))
                                        .small()
                                        .color(ui.visuals().error_fg_color),
                                );
                            }
                            if response.changed() {
                                self.field_errors[index] = None;
                            }
                        });
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            if ui.button(texts.struct_button).clicked() {
                action = Some(Action::SendStruct);
            }
        });
        action
    }

    fn picture_area(&mut self, ui: &mut Ui) {
        let language = self.language();
        let texts = language.texts();
        let hovering = ui.ctx().input(|input| !input.raw.hovered_files.is_empty());
        if hovering {
            ui.centered_and_justified(|ui| ui.heading(texts.drop_here));
            return;
        }
        match &self.current {
            Current::Ready(picture) => {
                if let Some(texture) = picture.textures.current(ui.ctx()).cloned() {
                    let alt = picture.path.display().to_string();
                    self.view
                        .show(ui, &texture, self.settings.stretch, &alt, language);
                }
            }
            Current::Loading => {
                ui.centered_and_justified(|ui| ui.spinner());
            }
            Current::Failed { note } => {
                let text = language.word(note, &self.options.location);
                ui.centered_and_justified(|ui| {
                    ui.label(RichText::new(text).color(ui.visuals().error_fg_color))
                });
            }
            Current::Empty => {
                ui.centered_and_justified(|ui| ui.label(texts.writer_empty));
            }
        }
    }

    fn grow_question(&self, ctx: &egui::Context) -> Option<Action> {
        let (growth, size) = self.ask_grow.as_ref()?;
        let language = self.language();
        let texts = language.texts();
        let segment = language.segment(&self.options.location);
        let question = if language == Language::Chinese {
            format!(
                "这张图片有 {}，需要把{segment}从 {} 扩大到 {}。要扩大吗？",
                language.size(*size),
                language.size(growth.previous_total_size),
                language.size(growth.total_size)
            )
        } else {
            format!(
                "This picture is {}: {segment} must grow from {} to {}. Grow it?",
                language.size(*size),
                language.size(growth.previous_total_size),
                language.size(growth.total_size)
            )
        };
        let mut answer = None;
        egui::Modal::new(egui::Id::unique("writer-grow-question")).show(ctx, |ui| {
            ui.set_max_width(420.0);
            ui.heading(texts.grow_title);
            ui.add(egui::Label::new(question).wrap());
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui.button(texts.grow_yes).clicked() {
                    answer = Some(true);
                }
                if ui.button(texts.cancel).clicked() {
                    answer = Some(false);
                }
            });
        });
        answer.map(Action::Grow)
    }

    /// Does what the user asked for in the frame just drawn.
    fn act(&mut self, ctx: &egui::Context, action: Action) {
        match action {
            Action::Browse => self.browse(ctx),
            Action::OpenTyped => match self.typed_path() {
                Some(path) => self.open(path),
                None => self.status.set(Note::PathEmpty),
            },
            Action::SendPicture => self.send_picture(),
            Action::SendStruct => self.send_struct(),
            Action::StartStream => self.start_stream(),
            Action::StopStream => self.worker.send(Command::StopStream),
            Action::Grow(answer) => {
                self.ask_grow = None;
                self.worker.send(Command::Grow(answer));
            }
            Action::OpenReader => {
                if let Some(companion) = &self.options.companion {
                    companion.open("reader");
                }
            }
        }
    }
}

/// What the user asked for in a frame: the drawing functions return it, [`WriterApp::act`]
/// does it once the frame is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// 浏览… (Browse…) or Ctrl+O: the file dialog.
    Browse,
    /// 打开 (Open) or Enter in the path box: open the path typed.
    OpenTyped,
    /// 咻一下 (Whoosh!): send the current picture.
    SendPicture,
    /// Struct: send the struct edited.
    SendStruct,
    /// Start streaming frames.
    StartStream,
    /// Stop streaming.
    StopStream,
    /// The answer to "grow the segment?".
    Grow(bool),
    /// Reopen the Reader window.
    OpenReader,
}

impl eframe::App for WriterApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if let Some(max_side) = shm_ui::texture_limit_changed(&ctx, &mut self.max_side_sent) {
            self.worker.send(Command::SetMaxSide(max_side));
        }
        while let Ok(event) = self.worker.events.try_recv() {
            self.apply(&ctx, event);
        }
        self.poll_dialog(&ctx);
        self.take_dropped_file(&ctx);
        let mut actions = Vec::new();
        if ctx.input_mut(|input| input.consume_key(Modifiers::COMMAND, Key::O)) {
            actions.push(Action::Browse);
        }
        if self.stream.is_some() {
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
        let language = self.language();
        let location = self.options.location.clone();

        actions.extend(
            egui::Panel::top("writer-top")
                .show(ui, |ui| self.top_bar(ui))
                .inner,
        );
        egui::Panel::bottom("writer-status").show(ui, |ui| {
            if let Some(note) = &self.status.0 {
                shm_ui::show_note(ui, note, language, &location);
            }
        });
        let edited = egui::Panel::right("writer-struct")
            .resizable(false)
            .exact_size(EDITOR_WIDTH)
            .show(ui, |ui| self.struct_editor(ui));
        actions.extend(edited.inner);
        egui::CentralPanel::default().show(ui, |ui| {
            actions.extend(self.path_row(ui));
            let texts = language.texts();
            ui.horizontal_wrapped(|ui| {
                if ui.button(texts.whoosh).clicked() {
                    actions.push(Action::SendPicture);
                }
                ui.checkbox(&mut self.settings.stretch, texts.stretch);
            });
            actions.extend(self.stream_controls(ui));
            ui.separator();
            self.picture_area(ui);
        });
        actions.extend(self.grow_question(&ctx));
        for action in actions {
            self.act(&ctx, action);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
