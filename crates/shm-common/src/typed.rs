//! Handles to a segment's channels, checked once when made: a [`Channel<T>`] carries values
//! of one [`Schema`](crate::Schema) type, a [`BytesChannel`] bytes.

use std::fmt;
use std::marker::PhantomData;

/// Where a handle's channel is: its index in the segment it was made for, its name to find it
/// again in another (re-created) segment, and that segment's instance id to tell the two apart.
#[derive(Clone, Debug)]
pub(crate) struct ChannelRef {
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) instance_id: u64,
}

/// A struct channel checked to carry values of `T`, from [`Writer::channel`](crate::Writer::channel)
/// or [`Reader::channel`](crate::Reader::channel). Cheap to clone; holds no reference to the
/// segment. If the segment is re-created under it, the reader looks the channel up again and
/// checks its type again.
pub struct Channel<T> {
    target: ChannelRef,
    value: PhantomData<fn() -> T>,
}

impl<T> Channel<T> {
    pub(crate) fn new(index: usize, name: &str, instance_id: u64) -> Channel<T> {
        Channel {
            target: ChannelRef {
                index,
                name: name.to_owned(),
                instance_id,
            },
            value: PhantomData,
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.target.name
    }

    pub(crate) fn target(&self) -> &ChannelRef {
        &self.target
    }
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Channel<T> {
        Channel {
            target: self.target.clone(),
            value: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.target.name)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

/// A bytes channel, from [`Writer::bytes_channel`](crate::Writer::bytes_channel) or
/// [`Reader::bytes_channel`](crate::Reader::bytes_channel).
#[derive(Clone, Debug)]
pub struct BytesChannel {
    target: ChannelRef,
}

impl BytesChannel {
    pub(crate) fn new(index: usize, name: &str, instance_id: u64) -> BytesChannel {
        BytesChannel {
            target: ChannelRef {
                index,
                name: name.to_owned(),
                instance_id,
            },
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.target.name
    }

    pub(crate) fn target(&self) -> &ChannelRef {
        &self.target
    }
}
