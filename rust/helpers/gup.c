// SPDX-License-Identifier: GPL-2.0

#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>

__rust_helper int rust_helper_page_ref_count(const struct page *page)
{
	return page_ref_count(page);
}

__rust_helper bool rust_helper_PageCompound(const struct page *page)
{
	return PageCompound(page);
}

__rust_helper void rust_helper_put_page(struct page *page)
{
	put_page(page);
}

__rust_helper unsigned long rust_helper_page_to_pfn(const struct page *page)
{
	return page_to_pfn(page);
}

__rust_helper struct page *rust_helper_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}

__rust_helper long rust_helper_folio_nr_pages(const struct folio *folio)
{
	return folio_nr_pages(folio);
}

__rust_helper struct page *rust_helper_folio_page(struct folio *folio,
						  unsigned long n)
{
	return folio_page(folio, n);
}

__rust_helper void rust_helper_mmap_write_lock(struct mm_struct *mm)
{
	mmap_write_lock(mm);
}

__rust_helper void rust_helper_mmap_write_unlock(struct mm_struct *mm)
{
	mmap_write_unlock(mm);
}

__rust_helper unsigned long rust_helper_task_rlimit(const struct task_struct *task,
						    unsigned int limit)
{
	return task_rlimit(task, limit);
}

__rust_helper struct user_struct *rust_helper_current_user(void)
{
	return current_user();
}

__rust_helper struct user_struct *rust_helper_get_uid(struct user_struct *u)
{
	return get_uid(u);
}

#if IS_BUILTIN(CONFIG_KUNIT)
#include <kunit/test-bug.h>
#include <kunit/test.h>
#include <linux/kthread.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>

/*
 * For KUnit tests: len bytes of anonymous, private, read-write user memory in an
 * address space KUnit attaches to the running test's thread, which must have none yet.
 * The protection and flags are macros, hence the helper. 0 outside a test, or if the
 * thread has an address space already.
 */
__rust_helper unsigned long rust_helper_kunit_vm_mmap_anon(unsigned long len)
{
	struct kunit *test = kunit_get_current_test();

	if (!test || current->mm)
		return 0;
	return kunit_vm_mmap(test, NULL, 0, len, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
}

/*
 * Leaves and releases the address space kunit_vm_mmap() attached to the test's thread
 * (KUnit itself never does: the thread's exit does not drop the reference that
 * kthread_use_mm() took, and the address space would leak).
 */
__rust_helper void rust_helper_kunit_release_mm(void)
{
	struct mm_struct *mm = current->mm;

	if (!mm || !(current->flags & PF_KTHREAD))
		return;
	kthread_unuse_mm(mm);
	mmput(mm);
}
#endif
