// SPDX-License-Identifier: GPL-2.0

//! IO page faults: the page request groups a device sends for IOVA its domain does not
//! map (PCI PRI, SMMUv3 stall), which the iommu core hands to the domain's handler.
//!
//! A domain's handler ([`Domain::set_iopf_handler`]) is an [`IopfHandler`], the data of
//! the [`AttachHandle`]s the domain is attached with: the core hands it the handle each
//! group came through and the group, an [`IopfGroup`], to answer (once, with
//! [`IopfGroup::respond`], or `IOMMU_PAGE_RESP_INVALID` when dropped).
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    bindings,
    error::{Error, Result},
    iommu::{attach::AttachHandle, domain::Domain},
};
use core::ptr::NonNull;

/// The response to a page request group (`enum iommu_page_response_code`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Response(bindings::iommu_page_response_code);

impl Response {
    /// The fault is resolved: the device retries (`IOMMU_PAGE_RESP_SUCCESS`).
    pub const SUCCESS: Self = Self(bindings::iommu_page_response_code_IOMMU_PAGE_RESP_SUCCESS);
    /// The request is invalid: the device does not retry (`IOMMU_PAGE_RESP_INVALID`).
    pub const INVALID: Self = Self(bindings::iommu_page_response_code_IOMMU_PAGE_RESP_INVALID);
    /// A general failure: the device stops sending requests
    /// (`IOMMU_PAGE_RESP_FAILURE`).
    pub const FAILURE: Self = Self(bindings::iommu_page_response_code_IOMMU_PAGE_RESP_FAILURE);

    /// The response of the code `code`, if it is one.
    pub fn from_code(code: u32) -> Option<Self> {
        [Self::SUCCESS, Self::INVALID, Self::FAILURE]
            .into_iter()
            .find(|r| r.0 == code)
    }
}

/// One page request of a group (`struct iommu_fault_page_request`).
#[repr(transparent)]
pub struct PageRequest(bindings::iommu_fault_page_request);

impl PageRequest {
    /// `IOMMU_FAULT_PAGE_REQUEST_*` flags (PASID valid, last of its group, ...).
    pub fn flags(&self) -> u32 {
        self.0.flags
    }

    /// The PASID, if the flags say it is valid.
    pub fn pasid(&self) -> u32 {
        self.0.pasid
    }

    /// The page request group index.
    pub fn grpid(&self) -> u32 {
        self.0.grpid
    }

    /// `IOMMU_FAULT_PERM_*`: the access asked for.
    pub fn perm(&self) -> u32 {
        self.0.perm
    }

    /// The faulting address.
    pub fn addr(&self) -> u64 {
        self.0.addr
    }
}

/// A page request group the iommu core handed over, awaiting its response.
///
/// # Invariants
///
/// `ptr` is a valid `struct iopf_group` this object owns, off the core's pending list: it
/// is answered and freed exactly once, by [`IopfGroup::respond`] or, with
/// [`Response::INVALID`], when dropped.
pub struct IopfGroup {
    ptr: NonNull<bindings::iopf_group>,
}

// SAFETY: A group may be answered and freed from any thread.
unsafe impl Send for IopfGroup {}

// SAFETY: Through `&IopfGroup` only the fault list, which does not change while the group
// is owned, is read.
unsafe impl Sync for IopfGroup {}

impl IopfGroup {
    fn raw(&self) -> &bindings::iopf_group {
        // SAFETY: Valid while owned (type invariant).
        unsafe { self.ptr.as_ref() }
    }

    /// The number of page requests in the group.
    pub fn count(&self) -> usize {
        self.raw().fault_count
    }

    /// Whether the group came through the attachment of `handle`.
    pub fn came_through<T>(&self, handle: &AttachHandle<T>) -> bool {
        handle.is(self.raw().attach_handle)
    }

    /// Calls `f` on each page request of the group, in order; stops at the first error.
    ///
    /// # Errors
    ///
    /// What `f` returns.
    pub fn for_each_request(&self, mut f: impl FnMut(&PageRequest) -> Result) -> Result {
        let head = core::ptr::from_ref(&self.raw().faults).cast_mut();
        // SAFETY: The group's fault list is valid and does not change while it is owned.
        let mut cur = unsafe { (*head).next };
        while cur != head {
            let off = core::mem::offset_of!(bindings::iopf_fault, list);
            // SAFETY: Every entry of the list is the `list` member of a `struct iopf_fault`
            // of the group, valid while the group is owned.
            let iopf = unsafe { &*cur.cast::<u8>().sub(off).cast::<bindings::iopf_fault>() };
            // SAFETY: The faults of a page request group are page requests (`prm`);
            // `PageRequest` is transparent over it.
            let prm = unsafe { &*core::ptr::from_ref(&iopf.fault.prm).cast::<PageRequest>() };
            f(prm)?;
            cur = iopf.list.next;
        }
        Ok(())
    }

    /// Answers the group with `response` and frees it.
    pub fn respond(self, response: Response) {
        let ptr = self.ptr.as_ptr();
        core::mem::forget(self);
        // SAFETY: We own the group (type invariant) and give it up here, once.
        unsafe {
            bindings::iopf_group_response(ptr, response.0);
            bindings::iopf_free_group(ptr);
        }
    }
}

impl Drop for IopfGroup {
    fn drop(&mut self) {
        let ptr = self.ptr.as_ptr();
        // SAFETY: As in `respond`: the group is answered and freed once, here.
        unsafe {
            bindings::iopf_group_response(ptr, Response::INVALID.0);
            bindings::iopf_free_group(ptr);
        }
    }
}

/// The IO page fault handler of domains attached with `AttachHandle<Self>`.
pub trait IopfHandler: Sized + Send + Sync + 'static {
    /// Takes `group`, which came through the attachment of `handle`, to answer now or later
    /// (dropping it answers [`Response::INVALID`]).
    ///
    /// # Errors
    ///
    /// An error gives the group back: the core answers it (`IOMMU_PAGE_RESP_FAILURE`).
    fn handle(
        handle: &AttachHandle<Self>,
        group: IopfGroup,
    ) -> core::result::Result<(), (Error, IopfGroup)>;
}

/// The core's `iopf_handler` of domains whose handler is `T`.
///
/// # Safety
///
/// Called by the iommu core with a valid group it hands over, whose attach handle is an
/// `AttachHandle<T>` (a domain with this handler is attached only with those,
/// [`Domain::set_iopf_handler`]) and stays valid for the call.
unsafe extern "C" fn iopf_handler<T: IopfHandler>(group: *mut bindings::iopf_group) -> i32 {
    // SAFETY: By the function's safety requirement.
    let handle = unsafe { AttachHandle::<T>::from_raw((*group).attach_handle) };
    // SAFETY: The group is valid; it leaves the core's pending list before we own it.
    unsafe { bindings::iopf_group_dequeue(group) };
    // SAFETY: The core passes a valid, so non-null, group.
    let ptr = unsafe { NonNull::new_unchecked(group) };
    // INVARIANT: The core hands the group over on success; on error we give it back.
    let owned = IopfGroup { ptr };
    match T::handle(handle, owned) {
        Ok(()) => 0,
        Err((e, owned)) => {
            // The core answers and frees the group on error.
            core::mem::forget(owned);
            e.to_errno()
        }
    }
}

impl Domain {
    /// Sets the handler the iommu core calls with the IO page faults of devices attached to
    /// this domain: `T`, the data of the handles it is attached with
    /// ([`crate::iommu::attach::Attachment::attach`] refuses others). Only before the
    /// domain is shared or attached.
    pub fn set_iopf_handler<T: IopfHandler>(&mut self) {
        self.set_iopf_data(core::any::TypeId::of::<T>());
        // SAFETY: `&mut self` means no one else uses the domain yet.
        unsafe { (*self.as_raw()).iopf_handler = Some(iopf_handler::<T>) };
    }
}

#[macros::kunit_tests(rust_kernel_iommu_iopf)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_the_uapi_codes() {
        // The codes of `IOMMUFD_PAGE_RESP_*`, which user space answers with.
        assert_eq!(Response::from_code(0), Some(Response::SUCCESS));
        assert_eq!(Response::from_code(1), Some(Response::INVALID));
        assert_eq!(Response::from_code(2), Some(Response::FAILURE));
        assert_eq!(Response::from_code(3), None);
        assert_eq!(Response::from_code(u32::MAX), None);
    }

    #[test]
    fn page_request_reads_its_fields() {
        let prm = PageRequest(bindings::iommu_fault_page_request {
            flags: bindings::IOMMU_FAULT_PAGE_REQUEST_PASID_VALID,
            pasid: 7,
            grpid: 3,
            perm: bindings::IOMMU_FAULT_PERM_READ,
            addr: 0x1234_5000,
            ..Default::default()
        });
        assert_eq!(prm.flags(), bindings::IOMMU_FAULT_PAGE_REQUEST_PASID_VALID);
        assert_eq!((prm.pasid(), prm.grpid()), (7, 3));
        assert_eq!(prm.perm(), bindings::IOMMU_FAULT_PERM_READ);
        assert_eq!(prm.addr(), 0x1234_5000);
    }
}
