//! Browse… (Ctrl+O): the file dialog 请选择图片, wherever the Writer runs.
//!
//! * With a desktop portal, the system's own dialog through rfd.
//! * Without one but with zenity, zenity run by us: rfd's own fallback to zenity drops the
//!   dialog's title and filters, so we give them ourselves.
//! * With neither, a dialog inside the window (egui_file), which draws Chinese with the
//!   bundled font.
//!
//! Every dialog opens in the current picture's folder with "all pictures" selected.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, TryRecvError};

use shm_ui::Language;

/// Which dialog to use.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum DialogChoice {
    /// Find out what the system offers, as described in the module docs.
    #[default]
    Detect,
    /// Always the dialog inside the window.
    InApp,
}

/// What the system offers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Backend {
    Portal,
    Zenity(PathBuf),
    InApp,
}

impl DialogChoice {
    fn backend(&self) -> Backend {
        match self {
            DialogChoice::InApp => Backend::InApp,
            DialogChoice::Detect if portal_available() => Backend::Portal,
            DialogChoice::Detect => match find_program("zenity") {
                Some(zenity) => Backend::Zenity(zenity),
                None => Backend::InApp,
            },
        }
    }
}

/// Whether a session bus runs that can start the desktop portal (its D-Bus service is
/// installed where D-Bus looks for services).
fn portal_available() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|address| address.is_empty()) {
        return false;
    }
    let data_dirs = std::env::var_os("XDG_DATA_DIRS")
        .filter(|dirs| !dirs.is_empty())
        .unwrap_or_else(|| "/usr/local/share:/usr/share".into());
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| crate::paths::home_dir().map(|home| home.join(".local/share")));
    std::env::split_paths(&data_dirs)
        .chain(data_home)
        .any(|dir| {
            dir.join("dbus-1/services/org.freedesktop.portal.Desktop.service")
                .is_file()
        })
}

/// `program`'s full path, if it is on `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// How a dialog ended.
pub enum DialogAnswer {
    /// A file was chosen.
    Picked(PathBuf),
    /// The person closed the dialog without choosing.
    Cancelled,
    /// The dialog could not be shown.
    Failed(io::Error),
}

/// The dialog being shown, if any.
#[derive(Default)]
pub struct FileDialogs {
    pending: Option<Pending>,
}

enum Pending {
    /// rfd or zenity, answering on their own thread.
    External(Receiver<io::Result<Option<PathBuf>>>),
    /// Drawn inside the window.
    InApp(Box<egui_file::FileDialog>),
}

impl FileDialogs {
    /// Opens the dialog in `folder` (the current picture's), unless one is open.
    pub fn open(
        &mut self,
        ctx: &egui::Context,
        choice: &DialogChoice,
        language: Language,
        folder: Option<&Path>,
    ) {
        if self.pending.is_some() {
            return;
        }
        let folder = folder
            .filter(|folder| folder.is_dir())
            .map(Path::to_path_buf)
            .or_else(crate::paths::home_dir);
        let texts = language.texts();
        let pending = match choice.backend() {
            Backend::Portal => {
                let mut dialog = rfd::FileDialog::new()
                    .set_title(texts.dialog_title)
                    .add_filter(texts.filter_all, &shm_picture::readable_extensions())
                    .add_filter(texts.filter_png, &["png"])
                    .add_filter(texts.filter_jpeg, &["jpg", "jpeg"]);
                if let Some(folder) = &folder {
                    dialog = dialog.set_directory(folder);
                }
                external(ctx, move || Ok(dialog.pick_file()))
            }
            Backend::Zenity(zenity) => {
                let mut command = Command::new(zenity);
                command
                    .arg("--file-selection")
                    .arg(format!("--title={}", texts.dialog_title));
                if let Some(folder) = &folder {
                    // A trailing slash opens the folder itself rather than selecting it.
                    command.arg(format!("--filename={}/", folder.display()));
                }
                let all = shm_picture::readable_extensions();
                for (name, extensions) in [
                    (texts.filter_all, all.as_slice()),
                    (texts.filter_png, &["png"][..]),
                    (texts.filter_jpeg, &["jpg", "jpeg"][..]),
                ] {
                    command.arg(format!("--file-filter={name} | {}", patterns(extensions)));
                }
                external(ctx, move || run_zenity(command))
            }
            Backend::InApp => Pending::InApp(Box::new(in_app(language, folder))),
        };
        self.pending = Some(pending);
    }

    /// Draws the in-app dialog and collects any answer.
    pub fn poll(&mut self, ctx: &egui::Context) -> Option<DialogAnswer> {
        let answer = match self.pending.as_mut()? {
            Pending::External(answer) => match answer.try_recv() {
                Ok(Ok(Some(path))) => DialogAnswer::Picked(path),
                Ok(Ok(None)) => DialogAnswer::Cancelled,
                Ok(Err(err)) => DialogAnswer::Failed(err),
                Err(TryRecvError::Empty) => {
                    ctx.request_repaint_after(shm_ui::POLL_INTERVAL);
                    return None;
                }
                Err(TryRecvError::Disconnected) => DialogAnswer::Cancelled,
            },
            Pending::InApp(dialog) => {
                dialog.show(ctx);
                if dialog.selected() {
                    match dialog.path() {
                        Some(path) => DialogAnswer::Picked(path.to_path_buf()),
                        None => DialogAnswer::Cancelled,
                    }
                } else if matches!(
                    dialog.state(),
                    egui_file::State::Cancelled | egui_file::State::Closed
                ) {
                    DialogAnswer::Cancelled
                } else {
                    return None;
                }
            }
        };
        self.pending = None;
        Some(answer)
    }
}

/// Runs `pick` on its own thread, so the window stays live while the dialog is open.
fn external(
    ctx: &egui::Context,
    pick: impl FnOnce() -> io::Result<Option<PathBuf>> + Send + 'static,
) -> Pending {
    let (answer, receiver) = mpsc::channel();
    let ctx = ctx.clone();
    std::thread::spawn(move || {
        // The window may be gone by the time the person picks a file: nothing to tell then.
        let _ = answer.send(pick());
        ctx.request_repaint();
    });
    Pending::External(receiver)
}

/// zenity's answer: the chosen path on stdout and exit 0; exit 1 when cancelled.
fn run_zenity(mut command: Command) -> io::Result<Option<PathBuf>> {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()?;
    match output.status.code() {
        Some(0) => {
            let text = String::from_utf8_lossy(&output.stdout);
            let path = text.trim_end_matches(['\n', '\r']);
            Ok((!path.is_empty()).then(|| PathBuf::from(path)))
        }
        Some(1) => Ok(None),
        _ => Err(io::Error::other(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        )),
    }
}

/// `*.png *.PNG *.jpg ...`: zenity's patterns are case-sensitive.
fn patterns(extensions: &[&str]) -> String {
    extensions
        .iter()
        .flat_map(|ext| [format!("*.{ext}"), format!("*.{}", ext.to_uppercase())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// The dialog drawn inside the window, in the window's language, showing folders and pictures.
fn in_app(language: Language, folder: Option<PathBuf>) -> egui_file::FileDialog {
    let texts = language.texts();
    let extensions: Vec<String> = shm_picture::readable_extensions()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let is_picture = move |path: &Path| {
        path.extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| extensions.contains(&ext.to_lowercase()))
    };
    let mut dialog = egui_file::FileDialog::open_file()
        .title(texts.dialog_title)
        .id(egui::Id::unique("writer-file-dialog"))
        .open_button_text(texts.open.into())
        .cancel_button_text(texts.cancel.into())
        .file_label_text(texts.dialog_file.into())
        .show_hidden_checkbox_text(texts.dialog_hidden.into())
        .parent_folder_button_hover_text(texts.dialog_parent.into())
        .refresh_button_hover_text(texts.dialog_refresh.into())
        .show_new_folder(false)
        .show_rename(false)
        .show_files_filter(Box::new(move |path: &Path| is_picture(path)));
    if let Some(folder) = folder {
        dialog = dialog.initial_path(folder);
    }
    dialog.open();
    dialog
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zenity_patterns_match_either_case() {
        assert_eq!(patterns(&["png", "jpg"]), "*.png *.PNG *.jpg *.JPG");
    }
}
