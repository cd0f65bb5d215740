//! Every library error as a Python exception of its own class under `ShmError`, carrying the
//! library's sentence.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use shm_common as lib;

create_exception!(
    shm_exchange,
    ShmError,
    PyException,
    "Base class of every error of shm_exchange; str() is the library's sentence."
);
create_exception!(
    shm_exchange,
    SegmentNameError,
    ShmError,
    "A segment name that cannot be used."
);
create_exception!(
    shm_exchange,
    OpenError,
    ShmError,
    "A segment that cannot be opened: missing, damaged, someone else's..."
);
create_exception!(
    shm_exchange,
    CreateError,
    ShmError,
    "A writer that cannot take a segment: another writer holds it, no space..."
);
create_exception!(
    shm_exchange,
    SendError,
    ShmError,
    "A record that cannot be sent: too large for the segment, malformed..."
);
create_exception!(
    shm_exchange,
    GrowError,
    ShmError,
    "A segment that cannot grow to hold a record."
);
create_exception!(
    shm_exchange,
    ReadError,
    ShmError,
    "A record that cannot be read: a damaged segment, a checksum mismatch..."
);

/// Each library error as its exception.
pub(crate) trait Raise {
    /// The exception.
    fn raise(self) -> PyErr;
}

macro_rules! raises {
    ($($error:ty => $exception:ty),* $(,)?) => {
        $(impl Raise for $error {
            fn raise(self) -> PyErr {
                <$exception>::new_err(self.to_string())
            }
        })*
    };
}

raises! {
    lib::NameError => SegmentNameError,
    lib::OpenError => OpenError,
    lib::CreateError => CreateError,
    lib::SendError => SendError,
    lib::GrowError => GrowError,
    lib::ReadError => ReadError,
}

/// Adds the exception classes to the module.
pub(crate) fn add_to(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("ShmError", py.get_type::<ShmError>())?;
    module.add("SegmentNameError", py.get_type::<SegmentNameError>())?;
    module.add("OpenError", py.get_type::<OpenError>())?;
    module.add("CreateError", py.get_type::<CreateError>())?;
    module.add("SendError", py.get_type::<SendError>())?;
    module.add("GrowError", py.get_type::<GrowError>())?;
    module.add("ReadError", py.get_type::<ReadError>())?;
    Ok(())
}
