# kvm-aging.mms - a KVM guest touching its memory while the host ages it.
#
# Page aging asks both MMUs whether a page was used: the CPU's accessed
# bits through the reverse map and the shadow MMU's through the
# clear_flush_young notifier.  A guest that keeps touching its memory
# must keep it "referenced" even though the host CPU never touches it;
# once the guest stops, a pass clears the bits and the next finds nothing.

process host
map host ram 2M rw private
cpu host c0
kvm guest host ram gpa 0x0   # slot 0: guest-physical 0 -> ram

# The guest writes all of its memory: host pages appear, SPTEs too.
write guest ram 0x7
expect guest.sptes > 0

# The first pass finds every page referenced and clears the bits...
age host
expect host.scanned == 512
expect host.referenced > 0
# ...so the second, with nobody touching memory in between, finds none.
age host
expect host.referenced == 0
expect guest.young_cleared > 0

# The guest touches 16 pages: they are referenced again, only they.
read guest ram[0:64K] expect 0x7
age host
expect host.referenced > 0
expect host.referenced <= 16

# The guest running while the host ages: every page the guest uses
# stays referenced, and no SPTE outlives its host page.
parallel
	thread vcpu loop
		write guest ram[0:256K] 0x8
		read guest ram[256K:512K] expect 0x7
	end
	thread aging
		repeat 100
			age host
		end
	end
end

# Dropping host memory zaps the guest's view of it: it reads zero again.
madvise host ram[0:64K] dontneed
read guest ram[0:64K] expect 0
expect guest.zapped > 0
load c0 ram[64K:256K] expect 0x8

expect violations none
