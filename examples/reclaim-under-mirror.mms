# Reclaim and migration under a mirror device: the kernel swaps and moves
# a buffer the device is using; each move is an invalidation the device
# must honour, and the bytes the device wrote must survive the trip
# through swap (the oracle's lost-write rule).
#
#   mmirror run examples/reclaim-under-mirror.mms
#
# docs/reclaim.md and docs/migrate.md explain the paths.

process p
map p buf 1M
cpu p c
mirror gpu p engines 2

store c buf 0x1
write gpu buf[0:512K] 0x2             # the device dirties half of it
reclaim 512                           # swap out: CLEAR invalidations
expect p.swapents > 0
read gpu buf[0:512K] expect 0x2       # swapped back in for the device
load c buf[512K:] expect 0x1

migrate p buf                         # NUMA-like move: MIGRATE invalidations
read gpu buf expect 0x1|0x2

# Memory pressure: 64 frames of headroom, while the device and the CPU
# keep touching the whole buffer from two threads.
pressure 64
parallel
 thread device
  repeat 4
   write gpu buf[0:512K] 0x3
   read gpu buf[512K:] expect 0x1|0x4
  end
 end
 thread cpu
  repeat 4
   store c buf[512K:] 0x4
   load c buf[0:512K] expect 0x2|0x3
  end
 end
end
pressure off
read gpu buf[0:512K] expect 0x3
load c buf[512K:] expect 0x4
expect violations none
