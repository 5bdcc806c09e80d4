package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear, in the manner of HdrHistogram: each power
// of two is split into 1<<subBits equal buckets, so a bucket is never
// wider than 1/64 of its lower bound. Reporting the bucket midpoint keeps
// a quantile within 1/128 (0.8%) of the true value. Values are
// nanoseconds; from 0 to 2^maxBits ns (about 18 minutes), larger ones
// fall in the last bucket (the exact maximum is kept aside).
const (
	subBits  = 6
	maxBits  = 40
	nBuckets = (maxBits-subBits)<<subBits + 1<<subBits
	maxValue = 1<<maxBits - 1
)

// histogram counts latencies. Recording does not allocate; each worker
// owns one and they are merged once at the end.
type histogram struct {
	counts [nBuckets]uint64
	n      uint64
	min    int64
	max    int64
}

// bucketOf maps a value to its bucket index.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > maxValue {
		v = maxValue
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	if shift < 0 {
		shift = 0
	}
	return shift<<subBits + int(v>>shift)
}

// bucketRange is the lowest value of bucket i and the bucket's width.
func bucketRange(i int) (low, width int64) {
	if i < 2<<subBits {
		return int64(i), 1
	}
	shift := i>>subBits - 1
	return int64(i-shift<<subBits) << shift, 1 << shift
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
}

// quantile returns the value below which a fraction q of the recorded
// values lie: the midpoint of the bucket holding that rank, clamped to the
// exact minimum and maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			v := low + width/2
			v = min(max(v, h.min), h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
