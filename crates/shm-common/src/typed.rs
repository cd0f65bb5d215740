//! Handles to a segment's channels, checked once when made: a [`Channel<T>`] carries values
//! of one [`Schema`](crate::Schema) type, a [`BytesChannel`] bytes.

use std::fmt;
use std::marker::PhantomData;

/// A struct channel checked to carry values of `T`, from [`Writer::channel`](crate::Writer::channel)
/// or [`Reader::channel`](crate::Reader::channel). Cheap to clone; holds no reference to the
/// segment. If the segment is re-created under it, the reader looks the channel up again and
/// checks its type again.
pub struct Channel<T> {
    index: usize,
    name: String,
    instance_id: u64,
    value: PhantomData<fn() -> T>,
}

impl<T> Channel<T> {
    pub(crate) fn new(index: usize, name: &str, instance_id: u64) -> Channel<T> {
        Channel {
            index,
            name: name.to_owned(),
            instance_id,
            value: PhantomData,
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn instance_id(&self) -> u64 {
        self.instance_id
    }
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Channel<T> {
        Channel::new(self.index, &self.name, self.instance_id)
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

/// A bytes channel, from [`Writer::bytes_channel`](crate::Writer::bytes_channel) or
/// [`Reader::bytes_channel`](crate::Reader::bytes_channel).
#[derive(Clone, Debug)]
pub struct BytesChannel {
    index: usize,
    name: String,
    instance_id: u64,
}

impl BytesChannel {
    pub(crate) fn new(index: usize, name: &str, instance_id: u64) -> BytesChannel {
        BytesChannel {
            index,
            name: name.to_owned(),
            instance_id,
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn instance_id(&self) -> u64 {
        self.instance_id
    }
}
