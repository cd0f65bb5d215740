//! Flags and window set-up both apps share.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::events::EventLog;

/// `--events FILE` and `--position X,Y`.
#[derive(clap::Args, Debug, Clone)]
pub struct WindowArgs {
    /// Append a JSON line to this file for everything the window sends, receives, shows or
    /// fails at.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Where to put the window's top-left corner on the screen, e.g. 0,0.
    #[arg(long, value_name = "X,Y", value_parser = parse_position)]
    pub position: Option<[f32; 2]>,
    /// The launcher's socket, through which this window asks it to reopen the other one.
    #[arg(long, value_name = "SOCKET", hide = true)]
    pub companion: Option<PathBuf>,
}

/// The launcher that started a window, which can reopen the other window of the pair.
#[derive(Clone, Debug)]
pub struct Companion {
    socket: PathBuf,
}

impl Companion {
    /// A launcher listening on `socket`.
    pub fn new(socket: PathBuf) -> Companion {
        Companion { socket }
    }

    /// Asks the launcher to open `window` (`writer` or `reader`) if it is not open.
    pub fn open(&self, window: &str) {
        let sent = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|socket| socket.send_to(window.as_bytes(), &self.socket));
        if let Err(err) = sent {
            eprintln!(
                "cannot ask the launcher at '{}' to open the {window}: {err}",
                self.socket.display()
            );
        }
    }
}

fn parse_position(text: &str) -> Result<[f32; 2], String> {
    let parse = |part: &str| part.trim().parse::<f32>().ok().filter(|v| v.is_finite());
    match text.split_once(',') {
        Some((x, y)) => match (parse(x), parse(y)) {
            (Some(x), Some(y)) => Ok([x, y]),
            _ => Err(format!(
                "'{text}' is not a position; write X,Y in pixels, e.g. 0,0"
            )),
        },
        None => Err(format!(
            "'{text}' is not a position; write X,Y in pixels, e.g. 0,0"
        )),
    }
}

impl WindowArgs {
    /// The launcher that started this window, if one did.
    pub fn companion(&self) -> Option<Companion> {
        self.companion.clone().map(Companion::new)
    }

    /// The event log the flags ask for; `Err` is a message for stderr.
    pub fn event_log(&self, app: &'static str) -> Result<EventLog, String> {
        match &self.events {
            Some(path) => EventLog::open(app, path)
                .map_err(|err| format!("cannot open the event log '{}': {err}", path.display())),
            None => Ok(EventLog::disabled(app)),
        }
    }

    /// Opens the window titled `title` and runs `app` in it until it is closed.
    pub fn run<A: eframe::App + 'static>(
        &self,
        title: &str,
        app_id: &str,
        app: impl FnOnce(&eframe::CreationContext<'_>) -> A + 'static,
    ) -> ExitCode {
        let mut viewport = egui::ViewportBuilder::default()
            .with_title(title)
            .with_app_id(app_id)
            .with_inner_size([880.0, 600.0])
            .with_drag_and_drop(true);
        if let Some(position) = self.position {
            viewport = viewport.with_position(position);
        }
        let native = eframe::NativeOptions {
            viewport,
            // A window placed by --position (the launcher's side-by-side layout) does not
            // save its geometry over the one a person chose for it.
            persist_window: self.position.is_none(),
            ..Default::default()
        };
        let app_id_owned = app_id.to_owned();
        let position = self.position;
        let creator = move |cc: &eframe::CreationContext<'_>| {
            // eframe applies a remembered position over the builder's: --position wins.
            if let Some([x, y]) = position {
                cc.egui_ctx
                    .send_viewport_cmd(egui::ViewportCommand::OuterPosition(egui::pos2(x, y)));
            }
            close_on_termination_signals(&cc.egui_ctx, &app_id_owned);
            Ok(Box::new(app(cc)) as Box<dyn eframe::App>)
        };
        match eframe::run_native(title, native, Box::new(creator)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{app_id}: cannot open a window: {err}");
                ExitCode::FAILURE
            }
        }
    }
}

/// Ctrl-C, SIGTERM and SIGHUP close the window the normal way, so the app's `Drop`s run (the
/// Writer releases its lock and removes its segment) instead of the process just dying.
fn close_on_termination_signals(ctx: &egui::Context, app_id: &str) {
    let ctx = ctx.clone();
    let handler = move || ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    if let Err(err) = ctrlc::set_handler(handler) {
        eprintln!("{app_id}: Ctrl-C will end the window without cleaning up: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_as_x_comma_y() {
        assert_eq!(parse_position("0,0"), Ok([0.0, 0.0]));
        assert_eq!(parse_position(" 920 , 40.5"), Ok([920.0, 40.5]));
        assert!(parse_position("920").is_err());
        assert!(parse_position("a,b").is_err());
        assert!(parse_position("NaN,1").is_err());
    }
}
