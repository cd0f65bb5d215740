//! `--events FILE`: one JSON object per line for every thing an app sends, receives or shows,
//! so scripts (the end-to-end test) can check what happened without reading pixels.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// An append-only JSON-lines log; does nothing when no file was given. Cheap to clone.
#[derive(Clone, Default)]
pub struct EventLog {
    app: &'static str,
    file: Option<Arc<Mutex<File>>>,
}

impl EventLog {
    /// A log that records nothing.
    pub fn disabled(app: &'static str) -> EventLog {
        EventLog { app, file: None }
    }

    /// Appends to `path`, creating it if needed.
    pub fn open(app: &'static str, path: &Path) -> std::io::Result<EventLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(EventLog {
            app,
            file: Some(Arc::new(Mutex::new(file))),
        })
    }

    /// Writes `{"app": ..., "event": ..., "t_ns": ..., ...fields}` as one line.
    pub fn record(&self, event: &str, fields: Value) {
        let Some(file) = &self.file else {
            return;
        };
        let mut line = json!({
            "app": self.app,
            "event": event,
            "t_ns": shm_common::monotonic_ns(),
        });
        if let (Some(line), Value::Object(fields)) = (line.as_object_mut(), fields) {
            line.extend(fields);
        }
        // A poisoned lock only means another thread panicked mid-write; keep logging.
        let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // The log is a diagnostic aid: a full disk must not stop the app.
        let _ = writeln!(file, "{line}");
    }
}
