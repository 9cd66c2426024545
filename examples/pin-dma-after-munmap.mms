# pin-dma-after-munmap.mms - what pinning means: DMA after munmap.
#
# A pinning device (vfio, a classic RDMA registration) holds the frames,
# not the address space: after the process unmaps the buffer, the device
# still reads and writes the old frames, and new memory at the same
# address is a different thing it never sees.  That is correct for a pin
# (the frames cannot be freed while pinned, so nothing else is hurt) and
# exactly why notifier-based devices exist.  A registration cache (pin
# ... cache) drops its pins on the invalidation instead.

process app
map app buf 64K rw private
map app other 64K rw private
cpu app c0
store c0 buf 0xaaaa
store c0 other 0xcccc

pin dma app buf              # pin_user_pages(FOLL_LONGTERM) on all 16 pages
pin cached app other cache   # the same, dropped again on invalidation
expect dma.pinned == 16

munmap app buf
munmap app other

# The pinned device still reaches the old frames.
read dma buf+0 expect 0xaaaa
write dma buf+8 0xbbbb
read dma buf+8 expect 0xbbbb
# The cache let go: nothing is mapped there any more.
read cached other+0 expect -EFAULT
expect cached.evictions > 0

# New memory at the same address is not what the device sees.
map app buf
load c0 buf+8 expect 0
read dma buf+8 expect 0xbbbb

# Releasing the pins gives the frames back (the run checks that every
# frame is free at the end).
destroy dma
expect violations none
