// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the kernel crate's IOMMU domain (`kernel::iommu::domain`), with the mock
//! IOMMU as the driver: a paging domain of a mock device maps a range the caller vouches
//! for, or a page of user memory the caller holds pinned, at its physical address, refuses
//! what lies outside the range or the run (before the driver sees it), and unmaps it; its
//! dirty tracking reads the pages a device wrote into a user bitmap, clearing them or not;
//! two domains are told apart. Run when the module loads, after the mock IOMMU is registered.

use kernel::prelude::*;

#[kunit_tests(iommufd_kernel_domain)]
mod tests {
    use kernel::{
        bindings,
        iommu::{
            dirty::{DirtyBitmap, IotlbGather, IovaBitmap, NO_CLEAR},
            domain::{Domain, PhysRange, Prot},
        },
        mm::pin::{KunitUserMemory, PinBatch, PinFlags, PinnedRun},
        page::{Page, PAGE_SIZE},
        prelude::*,
        uaccess::{UserPtr, UserSlice},
        uapi,
    };

    use crate::selftest::mock::{DirtyMarker, MockDev};

    /// Where the mock domain translates.
    const IOVA: usize = uapi::MOCK_APERTURE_START as usize;

    /// A page of ours, the range of its bytes, and its physical address.
    fn page() -> Result<(Page, PhysRange, u64)> {
        let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
        // SAFETY: `page_to_pfn` computes with the pointer of a page we own.
        let phys = (unsafe { bindings::page_to_pfn(page.as_ptr()) } * PAGE_SIZE) as u64;
        // SAFETY: The page is ours until the test ends; every test unmaps it from its
        // domain, or drops the domain, before the page is freed.
        let range = unsafe { PhysRange::new(phys, PAGE_SIZE) };
        Ok((page, range, phys))
    }

    #[test]
    fn maps_a_vouched_range_at_its_address() -> Result {
        let dev = MockDev::new(0)?;
        // Declared before the domain, so freed after it.
        let (_page, range, phys) = page()?;
        let domain = Domain::alloc_paging(dev.device(), 0)?;
        let prot = Prot::READ.with(Prot::WRITE);
        assert_eq!(domain.iova_to_phys(IOVA as u64), 0);
        domain.map_phys(IOVA, &range, 0, PAGE_SIZE, prot, GFP_KERNEL)?;
        assert_eq!(domain.iova_to_phys(IOVA as u64 + 0x123), phys + 0x123);
        // The same page again, elsewhere.
        let other = IOVA + 4 * PAGE_SIZE;
        domain.map_phys(other, &range, 0, PAGE_SIZE, Prot::READ, GFP_KERNEL)?;
        assert_eq!(domain.iova_to_phys(other as u64 + 8), phys + 8);
        assert_eq!(domain.unmap(other, PAGE_SIZE), PAGE_SIZE);
        assert_eq!(domain.iova_to_phys(other as u64), 0);
        assert_eq!(domain.unmap(IOVA, PAGE_SIZE), PAGE_SIZE);
        assert_eq!(domain.iova_to_phys(IOVA as u64), 0);
        Ok(())
    }

    #[test]
    fn refuses_what_is_not_in_the_range() -> Result {
        let dev = MockDev::new(0)?;
        let (_page, range, _) = page()?;
        let domain = Domain::alloc_paging(dev.device(), 0)?;
        let prot = Prot::READ;
        // Past the end of the range, by a byte or by an overflow.
        assert_eq!(
            domain.map_phys(IOVA, &range, 0, PAGE_SIZE + 1, prot, GFP_KERNEL),
            Err(EINVAL)
        );
        assert_eq!(
            domain.map_phys(IOVA, &range, 1, PAGE_SIZE, prot, GFP_KERNEL),
            Err(EINVAL)
        );
        assert_eq!(
            domain.map_phys(IOVA, &range, u64::MAX, 2, prot, GFP_KERNEL),
            Err(EINVAL)
        );
        // Nothing stayed mapped.
        assert_eq!(domain.iova_to_phys(IOVA as u64), 0);
        Ok(())
    }

    /// A page of user memory of the test's own address space, pinned for writing: the run
    /// of its pin.
    fn pinned_user_page(memory: &KunitUserMemory) -> Result<PinnedRun> {
        let mut batch = PinBatch::new(1)?;
        let flags = PinFlags::LONGTERM.with(PinFlags::WRITE);
        assert_eq!(batch.pin_user(None, memory.addr(), 1, flags)?, 1);
        let mut run = None;
        batch.take_runs(false, |r| {
            run = Some(r);
            Ok(())
        })?;
        run.ok_or(EINVAL)
    }

    #[test]
    fn maps_only_the_pinned_pages() -> Result {
        let dev = MockDev::new(0)?;
        let memory = KunitUserMemory::new(PAGE_SIZE)?;
        // Declared before the domain, so unpinned after it is freed.
        let run = pinned_user_page(&memory)?;
        assert_eq!(run.count(), 1);
        let phys = (run.pfn() * PAGE_SIZE) as u64;
        let domain = Domain::alloc_paging(dev.device(), 0)?;
        let prot = Prot::READ.with(Prot::WRITE);
        domain.map_pinned(IOVA, &run, 0, PAGE_SIZE, prot, GFP_KERNEL)?;
        assert_eq!(domain.iova_to_phys(IOVA as u64 + 0x42), phys + 0x42);
        // Bytes past the run are refused before the driver sees them, whatever the sum.
        let other = IOVA + 4 * PAGE_SIZE;
        for (offset, size) in [(0, PAGE_SIZE + 1), (PAGE_SIZE, 1), (usize::MAX, 2)] {
            assert_eq!(
                domain.map_pinned(other, &run, offset, size, prot, GFP_KERNEL),
                Err(EINVAL)
            );
        }
        assert_eq!(domain.iova_to_phys(other as u64), 0);
        assert_eq!(domain.unmap(IOVA, PAGE_SIZE), PAGE_SIZE);
        assert_eq!(domain.iova_to_phys(IOVA as u64), 0);
        Ok(())
    }

    /// Reads the dirty bits of the 64 pages from `IOVA` of `domain` into a user bitmap at
    /// `user` (cleared first), with `flags`; returns the bits.
    fn read_dirty(domain: &Domain, user: usize, flags: usize) -> Result<u64> {
        let ptr = UserPtr::from_addr(user);
        UserSlice::new(ptr, 8).writer().write(&0u64)?;
        let bitmap = IovaBitmap::new(IOVA, 64 * PAGE_SIZE, PAGE_SIZE, ptr)?;
        {
            pin_init::stack_pin_init!(let gather = IotlbGather::new(domain));
            let mut dirty = DirtyBitmap::new(Some(&bitmap), &gather);
            bitmap.for_each(|iova, length| dirty.read_and_clear(iova, length, flags))?;
        }
        drop(bitmap);
        UserSlice::new(ptr, 8).reader().read::<u64>()
    }

    #[test]
    fn reads_and_clears_dirty_bits() -> Result {
        let dev = MockDev::new(0)?;
        let (_page, range, _) = page()?;
        let tracking = uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
        assert!(!Domain::alloc_paging(dev.device(), 0)?.has_dirty_tracking());
        let domain = Domain::alloc_paging(dev.device(), tracking)?;
        assert!(domain.has_dirty_tracking());
        let prot = Prot::READ.with(Prot::WRITE);
        domain.map_phys(IOVA, &range, 0, PAGE_SIZE, prot, GFP_KERNEL)?;
        domain.map_phys(IOVA + 5 * PAGE_SIZE, &range, 0, PAGE_SIZE, prot, GFP_KERNEL)?;
        domain.set_dirty_tracking(true)?;
        let memory = KunitUserMemory::new(PAGE_SIZE)?;
        let bitmap = memory.addr();
        assert_eq!(read_dirty(&domain, bitmap, 0)?, 0);
        // The device writes the sixth page: its bit, read without clearing, stays.
        let marker = DirtyMarker::new(&domain)?;
        marker.mark((IOVA + 5 * PAGE_SIZE) as u64);
        assert_eq!(read_dirty(&domain, bitmap, NO_CLEAR)?, 1 << 5);
        assert_eq!(read_dirty(&domain, bitmap, NO_CLEAR)?, 1 << 5);
        // Read and cleared; then clean.
        marker.mark(IOVA as u64);
        assert_eq!(read_dirty(&domain, bitmap, 0)?, 1 | 1 << 5);
        assert_eq!(read_dirty(&domain, bitmap, 0)?, 0);
        domain.set_dirty_tracking(false)?;
        // Each mapping on its own: an unmap stops at the first hole.
        assert_eq!(domain.unmap(IOVA, PAGE_SIZE), PAGE_SIZE);
        assert_eq!(domain.unmap(IOVA + 5 * PAGE_SIZE, PAGE_SIZE), PAGE_SIZE);
        Ok(())
    }

    #[test]
    fn tells_domains_apart() -> Result {
        let dev = MockDev::new(0)?;
        let first = Domain::alloc_paging(dev.device(), 0)?;
        let second = Domain::alloc_paging(dev.device(), 0)?;
        assert!(first.is(&first));
        assert!(!first.is(&second));
        let aperture = first.aperture();
        assert_eq!(aperture.start, u64::from(uapi::MOCK_APERTURE_START));
        assert_eq!(aperture.end, u64::from(uapi::MOCK_APERTURE_LAST));
        assert!(first.is_of_driver_of(dev.device()));
        Ok(())
    }
}
