package spool

import "time"

// Retention reports how many records with payloadBytes bytes of payload a spool configured by opts is sure
// to hold while nothing is acknowledged, and how long that lasts when one record is appended per interval.
// The cap deletes a whole segment at a time, so just after a deletion the spool may hold as little as
// MaxBytes - SegmentBytes - one record.
func Retention(opts Options, payloadBytes int, interval time.Duration) (records int64, span time.Duration) {
	o, err := opts.withDefaults()
	if err != nil || payloadBytes < 0 {
		return 0, 0
	}
	per := HeaderSize + int64(payloadBytes)
	if per > o.SegmentBytes {
		return 0, 0
	}
	records = max(0, (o.MaxBytes-o.SegmentBytes)/per-1)
	return records, time.Duration(records) * interval
}
