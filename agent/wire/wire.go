// Package wire defines the JSON documents an agent sends to the server: the contract shared by agent/ and collector/.
//
// It imports nothing outside the standard library so that the agent binary stays small and the server can
// decode what agents send without linking agent code.
package wire

import "time"

// IngestPath is the server endpoint that accepts a Batch (gzip-compressed JSON, bearer token).
const IngestPath = "/api/v1/ingest"

// SchemaVersion is bumped on incompatible changes to Batch or Sample.
const SchemaVersion = 1

// Batch is one POST to IngestPath. Samples are ordered by Seq.
type Batch struct {
	Version int    `json:"version"`
	AgentID string `json:"agent_id"`
	// SentAt is the agent's clock when the batch was sent; the server compares it with its own clock to record skew.
	SentAt time.Time `json:"sent_at"`
	// Dropped is the cumulative number of samples the agent dropped since it was installed (spool over its cap).
	Dropped uint64 `json:"dropped"`
	// Spool is the agent's backlog when the batch was sent (agent health on the console).
	Spool *SpoolStats `json:"spool,omitempty"`
	// Host carries the host facts; agents send it in every batch (it is small), the server upserts it on change.
	Host    *HostFacts `json:"host,omitempty"`
	Samples []Sample   `json:"samples"`
}

// SpoolStats describe the agent's on-disk spool: what waits to be delivered.
type SpoolStats struct {
	Bytes   int64 `json:"bytes"`
	Records int64 `json:"records"`
}

// Ack is the server's answer to an accepted batch.
type Ack struct {
	Accepted   int `json:"accepted"`   // samples newly stored
	Duplicates int `json:"duplicates"` // samples whose (agent, seq) were stored before
	// MaxSeq is the highest sequence number the server holds for this agent.
	MaxSeq uint64 `json:"max_seq"`
}

// Error is the JSON body of every 4xx/5xx answer.
type Error struct {
	Error string `json:"error"`
	// Field names the offending field, e.g. "samples[3].cpu.busy_pct", when there is one.
	Field string `json:"field,omitempty"`
}

// HostFacts are read once at start and again when they change.
type HostFacts struct {
	Hostname        string `json:"hostname"`
	OS              string `json:"os"`               // linux, windows
	Platform        string `json:"platform"`         // debian, kylin, uos, ...
	PlatformVersion string `json:"platform_version"` // 12, V10, ...
	Kernel          string `json:"kernel"`           // kernel version
	Arch            string `json:"arch"`             // x86_64, aarch64, loongarch64
	Virtualization  string `json:"virtualization"`   // kvm, vmware, ... or "" on bare metal
	VirtRole        string `json:"virt_role"`        // guest, host or ""
	CPUModel        string `json:"cpu_model"`
	CPUCores        int    `json:"cpu_cores"` // logical CPUs
	MemTotalBytes   uint64 `json:"mem_total_bytes"`
	BootTime        int64  `json:"boot_time"` // unix seconds
	AgentVersion    string `json:"agent_version"`
}

// Sample is one collection cycle on one host. A nil family means it could not be collected in that cycle.
type Sample struct {
	Seq  uint64    `json:"seq"` // monotonically increasing per agent, starting at 1
	Time time.Time `json:"ts"`
	// IntervalSeconds is the time covered by the deltas in this sample (since the previous cycle); 0 on the first.
	IntervalSeconds float64 `json:"interval_s"`

	CPU      *CPU         `json:"cpu,omitempty"`
	Load     *Load        `json:"load,omitempty"`
	Memory   *Memory      `json:"mem,omitempty"`
	Swap     *Swap        `json:"swap,omitempty"`
	FS       []Filesystem `json:"fs,omitempty"`
	Disks    []DiskIO     `json:"disk,omitempty"`
	Net      []NetIO      `json:"net,omitempty"`
	Conns    *Conns       `json:"conns,omitempty"`
	Sessions *int         `json:"sessions,omitempty"` // logged-in user sessions
	Procs    *int         `json:"procs,omitempty"`    // process count
	Uptime   *uint64      `json:"uptime_s,omitempty"`
	// AgentNetBytes is the agent's own traffic to the server during the interval (payload plus an estimate of
	// TCP/IP headers), so that the analyzer can tell an idle host from one that only talks to zhizhi.
	AgentNetBytes *uint64 `json:"agent_net_bytes,omitempty"`

	// Errors lists the families that failed in this cycle with a short reason, e.g. {"fs":"timeout on /mnt/nfs"}.
	Errors map[string]string `json:"errors,omitempty"`
}

// CPU is busy time over the interval, from successive cpu.Times deltas; all values are percent of all CPUs (0–100).
type CPU struct {
	BusyPct   float64 `json:"busy_pct"`
	UserPct   float64 `json:"user_pct"`
	SystemPct float64 `json:"system_pct"`
	IOWaitPct float64 `json:"iowait_pct"`
	StealPct  float64 `json:"steal_pct"`
}

// Load is the run-queue load average.
type Load struct {
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
}

// Memory is physical memory in bytes; UsedPct is (total-available)/total.
type Memory struct {
	TotalBytes     uint64  `json:"total_bytes"`
	UsedBytes      uint64  `json:"used_bytes"`
	AvailableBytes uint64  `json:"available_bytes"`
	UsedPct        float64 `json:"used_pct"`
}

// Swap is swap space in bytes.
type Swap struct {
	TotalBytes uint64  `json:"total_bytes"`
	UsedBytes  uint64  `json:"used_bytes"`
	UsedPct    float64 `json:"used_pct"`
}

// Filesystem is one real mounted filesystem.
type Filesystem struct {
	Mount         string  `json:"mount"`
	Device        string  `json:"device"`
	FSType        string  `json:"fstype"`
	TotalBytes    uint64  `json:"total_bytes"`
	UsedBytes     uint64  `json:"used_bytes"`
	FreeBytes     uint64  `json:"free_bytes"`
	UsedPct       float64 `json:"used_pct"`
	InodesUsedPct float64 `json:"inodes_used_pct"`
}

// DiskIO is block-device traffic during the interval (deltas, never negative: a counter reset yields 0).
type DiskIO struct {
	Device     string `json:"device"`
	ReadBytes  uint64 `json:"read_bytes"`
	WriteBytes uint64 `json:"write_bytes"`
	Reads      uint64 `json:"reads"`
	Writes     uint64 `json:"writes"`
}

// NetIO is interface traffic during the interval (deltas, loopback excluded, resets yield 0).
type NetIO struct {
	Interface string `json:"iface"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxBytes   uint64 `json:"tx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	RxErrors  uint64 `json:"rx_errors"`
	TxErrors  uint64 `json:"tx_errors"`
}

// Conns summarises TCP connections at the moment of collection.
type Conns struct {
	Established int `json:"established"` // all ESTABLISHED TCP connections
	// Inbound is ESTABLISHED connections whose local port is one of the host's listening ports: someone uses a service.
	Inbound int `json:"inbound"`
	// NewInbound is inbound connections not seen in the previous cycle (an approximation of accepted connections).
	NewInbound int `json:"new_inbound"`
	Listening  int `json:"listening"` // listening TCP ports
}
