// SPDX-License-Identifier: GPL-2.0

//! Software MSI windows (`IOMMU_RESV_SW_MSI`): MSIs that the IOMMU translates.
//!
//! On ARM (GICv3 ITS behind SMMUv3) a device's MSI is a DMA write the IOMMU translates
//! like any other, so the domain the device is attached to must map the interrupt
//! controller's doorbell page, and the MSI message must carry the IOVA it is mapped at.
//! The IOMMU driver reports a window of IOVA for this: a reserved region of type SW_MSI,
//! which an attach reserves in the IOAS like the others, and whose start the group
//! records ([`GroupMsi`]). When the MSI layer sets up a vector of a device attached
//! through iommufd, the iommu core calls `iommufd_sw_msi()` under the group's mutex, which
//! the driver core passes to [`SW_MSI`].
//!
//! A doorbell gets one page of the window per context, the same in every domain of the
//! context, so that moving a group to another domain needs no new MSI message. The
//! context lists its doorbells ([`SwMsiMaps`]); a paging HWPT records which of them its
//! domain maps (`HwptPaging::sw_msi_present`), a group which of them its devices use
//! (`GroupMsi::required`). Before a group attaches to a domain, [`setup_group`] maps the
//! doorbells it uses there, so its interrupts keep working across a replace.
//!
//! # Locking
//!
//! The context's [`SwMsiMaps`] lock is the innermost: it is taken under a group's `state`
//! lock (attach and replace), or under the iommu group's mutex (`iommufd_sw_msi()`), and
//! nothing is taken under it but the domain's own page table locks.
//!
//! x86 has no SW_MSI region (its MSI window is a reserved region of type MSI that the
//! IOMMU does not translate); there `iommufd_sw_msi()` ([`crate::kapi::driver`]) is not lent and `GroupMsi::start` stays
//! unset.

use kernel::{
    iommu::domain::{PhysRange, Prot},
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
};

use crate::pagetable::hwpt::HwptPaging;

/// How many doorbells a context can map: the bits of [`MsiIds`] (64, as C).
const MAX_MAPS: usize = 64;

/// One doorbell page and where the context maps it.
struct SwMsiMap {
    /// The start of the SW_MSI window it is in.
    start: u64,
    /// The doorbell page.
    doorbell: PhysRange,
    /// Its page in the window.
    pgoff: u64,
    /// Its bit in [`MsiIds`].
    id: u32,
}

impl SwMsiMap {
    /// The IOVA the doorbell is mapped at.
    fn iova(&self) -> u64 {
        self.start + self.pgoff * PAGE_SIZE as u64
    }
}

/// The doorbells of a context (C's `ictx->sw_msi_list`), kept until the context goes.
pub(crate) struct SwMsiMaps {
    maps: KVec<SwMsiMap>,
}

/// A set of doorbells, by [`SwMsiMap::id`] (C's `struct iommufd_sw_msi_maps`).
pub(crate) struct MsiIds(Atomic<u64>);

impl MsiIds {
    /// The empty set.
    pub(crate) fn new() -> Self {
        Self(Atomic::new(0))
    }

    fn contains(&self, id: u32) -> bool {
        self.0.load(Relaxed) & (1 << id) != 0
    }

    fn insert(&self, id: u32) {
        // Changed under the context's `SwMsiMaps` lock only.
        self.0.store(self.0.load(Relaxed) | (1 << id), Relaxed);
    }
}

/// The context's doorbells, shared by its groups ([`GroupMsi`]).
pub(crate) type SharedMaps = Arc<Mutex<SwMsiMaps>>;

/// A new, empty doorbell list for a context.
///
/// # Errors
///
/// `ENOMEM`.
pub(crate) fn new_maps() -> Result<SharedMaps> {
    Arc::pin_init(
        new_mutex!(SwMsiMaps { maps: KVec::new() }),
        GFP_KERNEL_ACCOUNT,
    )
}

impl SwMsiMaps {
    /// The map of the doorbell page `doorbell` in the window at `start`, made if new: the
    /// next free page of the window (C's `iommufd_sw_msi_get_map()`).
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if the context has [`MAX_MAPS`] doorbells; `ENOMEM`.
    #[cfg_attr(not(CONFIG_IRQ_MSI_IOMMU), allow(dead_code))]
    fn get(&mut self, doorbell: PhysRange, start: u64) -> Result<&SwMsiMap> {
        let mut next_pgoff = 0;
        let mut found = None;
        for (i, m) in self.maps.iter().enumerate() {
            if m.start != start {
                continue;
            }
            next_pgoff = next_pgoff.max(m.pgoff + 1);
            if m.doorbell.addr() == doorbell.addr() {
                found = Some(i);
                break;
            }
        }
        let i = match found {
            Some(i) => i,
            None => {
                if self.maps.len() >= MAX_MAPS {
                    return Err(EOVERFLOW);
                }
                let id = self.maps.len() as u32;
                self.maps.push(
                    SwMsiMap {
                        start,
                        doorbell,
                        pgoff: next_pgoff,
                        id,
                    },
                    GFP_KERNEL_ACCOUNT,
                )?;
                id as usize
            }
        };
        Ok(&self.maps[i])
    }
}

/// Maps the doorbell of `map` into the domain of `hwpt`, unless it does already (C's
/// `iommufd_sw_msi_install()`). Called under the context's `SwMsiMaps` lock.
///
/// # Errors
///
/// As `iommu_map()` fails.
fn install(hwpt: &HwptPaging, map: &SwMsiMap) -> Result {
    if hwpt.sw_msi_present.contains(map.id) {
        return Ok(());
    }
    // The IOVA is in a SW_MSI window, which the IOAS reserves while a device that has it is
    // attached, so iommufd maps nothing else there.
    hwpt.domain.map_phys(
        map.iova() as usize,
        &map.doorbell,
        0,
        PAGE_SIZE,
        Prot::READ.with(Prot::WRITE).with(Prot::MMIO),
        GFP_KERNEL_ACCOUNT,
    )?;
    hwpt.sw_msi_present.insert(map.id);
    Ok(())
}

/// The SW MSI state of a group in a context (C's `igroup->sw_msi_start` and
/// `igroup->required_sw_msi`).
pub(crate) struct GroupMsi {
    /// The context's doorbells.
    maps: SharedMaps,
    /// The start of the devices' SW_MSI window; `u64::MAX` for none.
    start: Atomic<u64>,
    /// The doorbells the group's devices use.
    required: MsiIds,
}

impl GroupMsi {
    /// No window yet, and the context's doorbells `maps`.
    pub(crate) fn new(maps: SharedMaps) -> Self {
        Self {
            maps,
            start: Atomic::new(u64::MAX),
            required: MsiIds::new(),
        }
    }

    /// The start of the devices' SW_MSI window, if they have one.
    fn start(&self) -> Option<u64> {
        let start = self.start.load(Relaxed);
        (start != u64::MAX).then_some(start)
    }

    /// Records the SW_MSI window a device of the group reports (on attach, under the
    /// group's lock).
    pub(crate) fn set_start(&self, start: u64) {
        self.start.store(start, Relaxed);
    }

    /// Maps the doorbells the group uses into the domain of `hwpt`, before the group
    /// attaches to it (C's `iommufd_group_setup_msi()`).
    ///
    /// # Errors
    ///
    /// As `iommu_map()` fails.
    pub(crate) fn setup(&self, hwpt: &HwptPaging) -> Result {
        let Some(start) = self.start() else {
            return Ok(());
        };
        let maps = self.maps.lock();
        maps.maps
            .iter()
            .filter(|m| m.start == start && self.required.contains(m.id))
            .try_for_each(|m| install(hwpt, m))
    }

    /// Maps the doorbell page `doorbell` into the domain of `hwpt` and records that the
    /// group uses it; returns the IOVA, or `None` if the group has no SW_MSI window (its
    /// MSIs are not translated).
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if the context has too many doorbells; as `iommu_map()` fails; `ENOMEM`.
    #[cfg_attr(not(CONFIG_IRQ_MSI_IOMMU), allow(dead_code))]
    pub(crate) fn map_doorbell(
        &self,
        hwpt: &HwptPaging,
        doorbell: PhysRange,
    ) -> Result<Option<u64>> {
        let Some(start) = self.start() else {
            return Ok(None);
        };
        let mut maps = self.maps.lock();
        let map = maps.get(doorbell, start)?;
        install(hwpt, map)?;
        self.required.insert(map.id);
        Ok(Some(map.iova()))
    }
}
