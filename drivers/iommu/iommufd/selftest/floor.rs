// SPDX-License-Identifier: GPL-2.0

//! The floor of `make bench`: the bare kernel work of giving a device user memory, without
//! any of iommufd's bookkeeping, to compare iommufd's pinning workloads with.
//!
//! Writing `UPTR LENGTH` (numbers, `0x` for hexadecimal) to
//! `/sys/kernel/debug/iommufd-test/floor` (root only, with `CONFIG_IOMMUFD_TEST`) pins the
//! writer's memory `[UPTR, UPTR + LENGTH)` with `pin_user_pages_fast()` in batches of the
//! size iommufd uses, maps each run of contiguous pages with one `iommu_map()` into a
//! paging domain of a mock device (the kind of domain the `_mock` workloads fill; made on
//! the first write and kept, as an IOAS's domain is made once), then unmaps the whole range
//! with one `iommu_unmap()` and unpins. The write returns when all of it is done; `make
//! bench` times it from user space like the ioctls it compares with. Writers take turns.
//! The C iommufd has no such file: the floor is measured on the kernel with the Rust
//! module, which has the same core, page tables and GUP as the one with C's.

use kernel::{
    alloc::KVVec,
    debugfs::{Dir, File},
    iommu::domain::{Domain, Prot},
    mm::pin::{PinBatch, PinFlags, PinnedRun},
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::Mutex,
    uaccess::UserSliceReader,
    uapi,
};

use super::mock::MockDev;

/// Pages one batch pins: what iommufd's 64 KiB of temporary memory holds.
const BATCH_PAGES: usize = 65536 / core::mem::size_of::<usize>();

/// The domain the floor fills, and the device it is for (dropped after the domain).
struct FloorDomain {
    domain: Domain,
    _dev: MockDev,
}

/// What the file keeps.
#[pin_data]
struct Floor {
    /// The domain, once a write made it; held by each write (they fill the same IOVA).
    #[pin]
    state: Mutex<Option<FloorDomain>>,
}

/// `/sys/kernel/debug/iommufd-test/floor`, while the module is loaded.
pub(crate) struct FloorFile {
    _file: Option<Pin<KBox<File<Floor>>>>,
    _dir: Dir,
}

impl FloorFile {
    /// Creates the directory and the file; without debugfs, or short of memory, there is
    /// no floor to measure and nothing else changes.
    pub(crate) fn create() -> Self {
        let dir = Dir::new(c"iommufd-test");
        let data = pin_init!(Floor {
            state <- new_mutex!(None),
        });
        let file = KBox::pin_init(dir.write_callback_file(c"floor", data, &write), GFP_KERNEL);
        Self {
            _file: file.ok(),
            _dir: dir,
        }
    }
}

/// A number as written: decimal, or hexadecimal after `0x`.
fn number(s: &str) -> Result<usize> {
    let r = match s.strip_prefix("0x") {
        Some(hex) => usize::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| EINVAL)
}

/// The file's write: parses `UPTR LENGTH` and runs [`floor`].
fn write(this: &Floor, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 64];
    let len = reader.len().min(buf.len());
    reader.read_slice(&mut buf[..len])?;
    let text = core::str::from_utf8(&buf[..len]).map_err(|_| EINVAL)?;
    let mut words = text.split_ascii_whitespace();
    let uptr = number(words.next().ok_or(EINVAL)?)?;
    let length = number(words.next().ok_or(EINVAL)?)?;
    let mut state = this.state.lock();
    if state.is_none() {
        let dev = MockDev::new(0)?;
        let domain = Domain::alloc_paging(dev.device(), 0)?;
        *state = Some(FloorDomain { domain, _dev: dev });
    }
    let floor_domain = state.as_ref().ok_or(EINVAL)?;
    floor(&floor_domain.domain, uptr, length)
}

/// Pins `[uptr, uptr + length)` of the current process, maps it run by run into `domain`
/// from the start of the mock aperture, unmaps it and unpins it.
///
/// # Errors
///
/// `EINVAL` for an empty or unaligned range, or one larger than the mock aperture;
/// `EFAULT` for memory that is not mapped; `ENOMEM`; the driver's errors.
fn floor(domain: &Domain, uptr: usize, length: usize) -> Result {
    let start = uapi::MOCK_APERTURE_START as usize;
    let room = uapi::MOCK_APERTURE_LAST as usize - start + 1;
    if length == 0 || uptr % PAGE_SIZE != 0 || length % PAGE_SIZE != 0 || length > room {
        return Err(EINVAL);
    }
    let npages = length / PAGE_SIZE;
    // The pins, unpinned when this goes, after the unmap below.
    let mut runs = KVVec::<PinnedRun>::new();
    let prot = Prot::READ.with(Prot::WRITE);
    let flags = PinFlags::LONGTERM.with(PinFlags::WRITE);
    let mut batch = PinBatch::new(npages.min(BATCH_PAGES))?;
    let mut done = 0;
    let res = (|| {
        while done < npages {
            let n = batch.pin_user(None, uptr + done * PAGE_SIZE, npages - done, flags)?;
            // Room for a run per page pinned (the array doubles as it grows).
            runs.reserve(n, GFP_KERNEL)?;
            batch.take_runs(true, |run| {
                // Kept before it is mapped, so that it is unpinned only after the unmap.
                // Room was reserved above.
                runs.push_within_capacity(run).map_err(|_| ENOMEM)?;
                let run = runs.last().ok_or(ENOMEM)?;
                let size = run.count() * PAGE_SIZE;
                domain.map_pinned(start + done * PAGE_SIZE, run, 0, size, prot, GFP_KERNEL)?;
                done += run.count();
                Ok(())
            })?;
        }
        Ok(())
    })();
    if done != 0 {
        domain.unmap(start, done * PAGE_SIZE);
    }
    drop(runs);
    res
}
