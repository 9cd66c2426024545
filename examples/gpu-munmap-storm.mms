# gpu-munmap-storm.mms - a GPU mirroring a process through HMM while the
# process unmaps and maps again pieces of the very buffer the GPU works on.
#
# This is the workload interval notifiers exist for: every munmap must
# reach the GPU's page table (invalidate, then the device refaults) before
# the frames are freed, or the GPU reads and writes memory that belongs to
# someone else.  The oracle checks every GPU access; the expectations
# check the data both sides see.
#
# Run it:  mmirror run examples/gpu-munmap-storm.mms   (-v: every step)

process app
map app buf 1M rw private
cpu app c0               # the application's thread
cpu app c1               # a second application thread
mirror gpu app engines 2 # the device: two engines sharing one page table

# Warm up: the CPU fills the buffer, the GPU reads it through its own
# page table (faulting it in with hmm_range_fault).
store c0 buf 0x600d
read gpu buf expect 0x600d
snapshot gpu buf[0:16K] expect rw*4

# The storm.  Pieces [0, 64K) and [512K, 576K) are unmapped and mapped
# again (fresh zero-filled memory) over and over.  Meanwhile the GPU keeps
# reading across the first piece - it sees the old data, zeros, or
# -EFAULT in the instant nothing is mapped - and writes a part that is
# never unmapped, which a CPU thread keeps reading back.
parallel
	thread storm
		repeat 2000
			munmap app buf[0:64K]
			map app buf[0:64K]
			munmap app buf[512K:576K]
			map app buf[512K:576K]
		end
	end
	thread gpu-reader loop
		read gpu buf[0:128K] expect 0x600d|0|-EFAULT
	end
	thread gpu-writer loop
		write gpu buf[256K:320K] 0xbeef
	end
	thread cpu-reader loop
		load c1 buf[256K:320K] expect 0x600d|0xbeef
	end
end

# After the storm: the remapped pieces are fresh memory, the rest kept
# what was last written, on both sides.
load c0 buf[0:64K] expect 0
read gpu buf[512K:576K] expect 0
load c0 buf[256K:320K] expect 0xbeef
read gpu buf[64K:128K] expect 0x600d
expect gpu.invalidations > 0
expect gpu.faults > 0

expect violations none
