/* Page advice for output buffers that fastinit fills but did not allocate (XLA's, through the
   FFI handler in _fill.pyx).  A fresh 256 MiB buffer costs 65,536 first-touch page faults in 4 KiB
   pages and 128 in 2 MiB pages; numpy advises transparent huge pages for every array of 4 MiB or
   more (its hugepage_enabled default), and this does the same for buffers we are about to write
   whole.  Only a hint: the kernel may ignore it, and the memory's contents and ownership do not
   change. */
#ifndef FI_PAGES_H
#define FI_PAGES_H

#include <stddef.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

static inline void fi_advise_huge_pages(void *data, size_t nbytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const long page_size = sysconf(_SC_PAGESIZE);   /* 4 KiB on x86-64; 16/64 KiB elsewhere */
    const uintptr_t page = page_size > 0 ? (uintptr_t)page_size : 4096;
    uintptr_t a = ((uintptr_t)data + page - 1) & ~(page - 1);
    uintptr_t b = ((uintptr_t)data + nbytes) & ~(page - 1);
    if (nbytes >= ((size_t)4 << 20) && b > a)
        (void)madvise((void *)a, (size_t)(b - a), MADV_HUGEPAGE);
#else
    (void)data;
    (void)nbytes;
#endif
}

#endif
