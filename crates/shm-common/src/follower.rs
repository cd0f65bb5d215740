//! Following a segment over its whole life: waiting for a writer to create it, noticing the
//! writer attach, exit or die, and moving to the segment a writer re-created or grew under the
//! same name. The Reader window, `shm watch` and `shm bench` all follow a segment this way.

use std::time::{Duration, Instant};

use crate::channel::{Reader, WriterStatus};
use crate::error::{LayoutError, OpenError};
use crate::location::SegmentLocation;

/// How often [`Follower::check`] asks about the writer when not asked to at once: a killed
/// writer announces nothing, so this is how soon its death is seen.
pub const WRITER_CHECK: Duration = Duration::from_millis(200);

/// How long [`Follower::wait`] sleeps at most while there is no segment yet.
const NO_SEGMENT_SLEEP: Duration = Duration::from_millis(50);

/// How long a segment may stay uninitialised before it is reported unusable: its creator sets
/// it up within milliseconds, one that crashed doing so never finishes.
pub const SETUP_GRACE: Duration = Duration::from_secs(2);

/// What happened to a followed segment, as [`Follower::check`] reports it.
#[derive(Debug)]
pub enum SegmentEvent {
    /// There is no segment at the location yet (or its creator is still setting it up, for at
    /// most [`SETUP_GRACE`]): waiting for a writer to create it. Reported once per wait.
    Waiting,
    /// The segment exists but cannot be opened. Reported once per distinct error.
    Unusable(OpenError),
    /// A segment was opened: the first one, or (`reopened`) one a new writer created after the
    /// previous segment's writer left. Records are numbered from 1 again in it.
    Opened {
        /// Its writer's state.
        writer: WriterStatus,
        /// Whether it replaced a segment followed before.
        reopened: bool,
    },
    /// The writer moved to a larger segment (or one with more channels) under the same name,
    /// and the follower with it; records it had read count as read there too.
    Grown,
    /// The writer attached, exited or died.
    Writer(WriterStatus),
}

/// A [`Reader`] that keeps following the segment at one location, whatever its writers do.
pub struct Follower {
    location: SegmentLocation,
    reader: Option<Reader>,
    /// The writer's state last reported.
    writer: Option<WriterStatus>,
    waiting_reported: bool,
    /// Since when the segment has been found uninitialised, in a row.
    uninitialised_since: Option<Instant>,
    last_error: Option<String>,
    last_check: Instant,
}

impl Follower {
    /// A follower of the segment at `location`, which need not exist yet.
    pub fn new(location: SegmentLocation) -> Follower {
        Follower {
            location,
            reader: None,
            writer: None,
            waiting_reported: false,
            uninitialised_since: None,
            last_error: None,
            last_check: Instant::now(),
        }
    }

    /// The location followed.
    pub fn location(&self) -> &SegmentLocation {
        &self.location
    }

    /// The reader of the segment followed now, once there is one.
    pub fn reader(&self) -> Option<&Reader> {
        self.reader.as_ref()
    }

    /// The reader of the segment followed now, to read with.
    pub fn reader_mut(&mut self) -> Option<&mut Reader> {
        self.reader.as_mut()
    }

    /// The reader of the segment followed now, for a caller that stops following here.
    pub fn take_reader(&mut self) -> Option<Reader> {
        self.reader.take()
    }

    /// Opens the segment if none is open yet; otherwise, at most every [`WRITER_CHECK`]
    /// unless `at_once`, asks how its writer is and follows it to a grown or re-created
    /// segment. Returns what happened, in order.
    pub fn check(&mut self, at_once: bool) -> Vec<SegmentEvent> {
        let mut events = Vec::new();
        let Some(reader) = self.reader.as_mut() else {
            self.open(&mut events);
            return events;
        };
        if !at_once && self.last_check.elapsed() < WRITER_CHECK {
            return events;
        }
        self.last_check = Instant::now();
        let status = reader.writer_status();
        if status == WriterStatus::Replaced {
            // The grown segment took the name before the old one was marked, so it is there;
            // if it went away since, the next check finds the old writer gone.
            if let Ok(true) = reader.reopen_if_replaced() {
                events.push(SegmentEvent::Grown);
                let status = reader.writer_status();
                if self.writer != Some(status) {
                    self.writer = Some(status);
                    events.push(SegmentEvent::Writer(status));
                }
            }
            return events;
        }
        if self.writer != Some(status) {
            self.writer = Some(status);
            events.push(SegmentEvent::Writer(status));
        }
        if matches!(status, WriterStatus::Active { .. }) {
            return events;
        }
        // Gone: a new writer may have created a segment of its own under the name.
        if let Ok(true) = reader.reopen_if_replaced() {
            let writer = reader.writer_status();
            self.writer = Some(writer);
            events.push(SegmentEvent::Opened {
                writer,
                reopened: true,
            });
        }
        events
    }

    fn open(&mut self, events: &mut Vec<SegmentEvent>) {
        let opened = Reader::open(&self.location);
        let being_set_up = matches!(
            opened,
            Err(OpenError::Invalid {
                reason: LayoutError::Uninitialised,
                ..
            })
        );
        if !being_set_up {
            self.uninitialised_since = None;
        }
        let still_being_set_up = being_set_up
            && self
                .uninitialised_since
                .get_or_insert_with(Instant::now)
                .elapsed()
                < SETUP_GRACE;
        match opened {
            Ok(reader) => {
                let writer = reader.writer_status();
                self.writer = Some(writer);
                self.reader = Some(reader);
                self.waiting_reported = false;
                self.last_error = None;
                self.last_check = Instant::now();
                events.push(SegmentEvent::Opened {
                    writer,
                    reopened: false,
                });
            }
            Err(OpenError::NotFound { .. }) => self.report_waiting(events),
            Err(_) if still_being_set_up => self.report_waiting(events),
            Err(err) => {
                let message = err.to_string();
                if self.last_error.as_ref() != Some(&message) {
                    self.last_error = Some(message);
                    events.push(SegmentEvent::Unusable(err));
                }
            }
        }
    }

    fn report_waiting(&mut self, events: &mut Vec<SegmentEvent>) {
        if !self.waiting_reported {
            self.waiting_reported = true;
            events.push(SegmentEvent::Waiting);
        }
    }

    /// Waits up to `timeout` for a record not read yet, a writer attaching or leaving, or
    /// (with `follow_writes`) a large record starting, as [`Reader::wait_for_next`] does;
    /// without a segment yet, sleeps a little and returns false.
    pub fn wait(&mut self, timeout: Duration, follow_writes: bool) -> bool {
        match self.reader.as_mut() {
            Some(reader) if follow_writes => reader.wait_for_next(timeout),
            Some(reader) => reader.wait_for_change(timeout),
            None => {
                std::thread::sleep(timeout.min(NO_SEGMENT_SLEEP));
                false
            }
        }
    }
}
