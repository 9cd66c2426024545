# rdma-odp-fork.mms - an RDMA NIC with on-demand paging (ODP) registered
# on a process that forks.
#
# Fork write-protects the parent's private memory and shares its frames
# with the child copy-on-write.  The NIC's memory region follows the
# parent's address space: its page list must be invalidated by fork, and
# a remote write after fork must break COW in the parent (it is a write
# by the parent's secondary MMU), never scribble on the frame the child
# still shares.  Classic pinned registrations get this wrong; ODP gets it
# right through the notifier.

process parent
map parent buf 256K rw private
cpu parent pc
odp nic parent buf write     # one MR over the whole buffer, remote write

store pc buf 0x1111
read nic buf expect 0x1111   # the first DMA faults the page list in
expect nic.page_faults > 0

fork parent child
cpu child cc
expect nic.invalidations > 0 # fork write-protected the parent's pages

# A remote write after fork lands in the parent only.
write nic buf+0 0x2222
load pc buf+0 expect 0x2222
load cc buf+0 expect 0x1111

# The child writing its copy does not disturb the NIC's view.
store cc buf+8 0x3333
read nic buf+8 expect 0x1111

# Now both at once, for a while: the NIC writing the parent's first 64K
# while the child rewrites its own copy of the same addresses.
parallel
	thread nic-dma
		repeat 300
			write nic buf[0:64K] 0x4444
		end
	end
	thread child-cpu
		repeat 300
			store cc buf[0:64K] 0x5555
		end
	end
end
load pc buf[0:64K] expect 0x4444
load cc buf[0:64K] expect 0x5555
read nic buf[64K:] expect 0x1111

# The child exits; the parent's pages become its own again.
exit child
write nic buf[64K:128K] 0x6666
load pc buf[64K:128K] expect 0x6666

expect violations none
