// Package ingest decodes and validates the batches agents post to the server.
package ingest

import (
	"errors"
	"time"
)

// Default limits; see Limits.
const (
	DefaultMaxBodyBytes    = 4 << 20  // compressed request body
	DefaultMaxDecodedBytes = 16 << 20 // decompressed JSON
	DefaultMaxDepth        = 16
	DefaultMaxSamples      = 10000
	DefaultMaxEntries      = 256  // filesystems, disks, interfaces or errors in one sample
	DefaultMaxStringBytes  = 4096 // a mount point may be long; every other string is far shorter
	DefaultMaxFuture       = 10 * time.Minute
	DefaultMaxAge          = 7 * 24 * time.Hour // the raw retention: older samples would be deleted at once
	DefaultMaxInterval     = 86400              // seconds
	// PercentSlop is how far a percentage may stray outside 0..100 through float rounding.
	PercentSlop = 0.5
)

// Errors that Decode wraps; every other Decode or Validate error is a *FieldError.
var (
	// ErrTooLarge reports a body over MaxBodyBytes, or one that decompresses to more than MaxDecodedBytes.
	ErrTooLarge = errors.New("request body too large")
	// ErrUnsupportedEncoding reports a Content-Encoding other than gzip or identity.
	ErrUnsupportedEncoding = errors.New("unsupported content encoding")
)

// Limits bound what Decode and Validate accept. Zero fields take the defaults above.
type Limits struct {
	MaxBodyBytes    int64         // bytes on the wire (compressed)
	MaxDecodedBytes int64         // bytes of JSON after decompression (gzip bomb guard)
	MaxDepth        int           // nesting of objects and arrays
	MaxSamples      int           // samples in one batch
	MaxEntries      int           // filesystems, disks, interfaces or error entries in one sample
	MaxStringBytes  int           // any string, e.g. a mount point
	MaxFuture       time.Duration // how far a sample may be ahead of the server clock
	MaxAge          time.Duration // how far a sample may be behind the server clock
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = DefaultMaxDecodedBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxSamples <= 0 {
		l.MaxSamples = DefaultMaxSamples
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxStringBytes <= 0 {
		l.MaxStringBytes = DefaultMaxStringBytes
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = DefaultMaxFuture
	}
	if l.MaxAge <= 0 {
		l.MaxAge = DefaultMaxAge
	}
	return l
}

// FieldError is a rejected batch: Field is the path of the offending value (e.g. "samples[3].fs[1].used_pct"),
// empty when the problem is the document as a whole.
type FieldError struct {
	Field string
	Msg   string
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}
