package wire

import (
	"reflect"
	"testing"
)

func TestFlatten(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	i := func(v int) *int { return &v }
	s := Sample{
		Seq: 2, IntervalSeconds: 15,
		CPU:    &CPU{BusyPct: 12.5, IOWaitPct: 1},
		Load:   &Load{Load1: 0.5},
		Memory: &Memory{UsedPct: 40, UsedBytes: 4 << 30},
		Swap:   &Swap{UsedPct: 2},
		FS: []Filesystem{
			{Mount: "/", UsedPct: 30, UsedBytes: 30, TotalBytes: 100},
			{Mount: "/data", UsedPct: 90, UsedBytes: 900, TotalBytes: 1000},
		},
		Disks:         []DiskIO{{ReadBytes: 1, WriteBytes: 2}, {ReadBytes: 10, WriteBytes: 20}},
		Net:           []NetIO{{RxBytes: 100, TxBytes: 50, RxErrors: 1}, {RxBytes: 1, TxBytes: 2, TxErrors: 2}},
		Conns:         &Conns{Established: 5, Inbound: 3, NewInbound: 1},
		Sessions:      i(1),
		Procs:         i(120),
		AgentNetBytes: u(2500),
	}
	got := map[string]float64{}
	var order []string
	s.Flatten(func(name string, v float64) {
		if _, dup := got[name]; dup {
			t.Errorf("%s emitted twice", name)
		}
		got[name] = v
		order = append(order, name)
	})
	want := map[string]float64{
		MetricCPUBusyPct: 12.5, MetricCPUIOWaitPct: 1, MetricLoad1: 0.5, MetricMemUsedPct: 40,
		MetricMemUsedBytes: 4 << 30, MetricSwapUsedPct: 2, MetricFSMaxUsedPct: 90, MetricFSUsedBytes: 930,
		MetricFSTotalBytes: 1100, MetricDiskReadBytes: 11, MetricDiskWriteBytes: 22, MetricNetRxBytes: 101,
		MetricNetTxBytes: 52, MetricNetErrors: 3, MetricConnEstab: 5, MetricConnInbound: 3, MetricConnNewInbound: 1,
		MetricSessions: 1, MetricProcs: 120, MetricAgentNetBytes: 2500,
		FSUsedPctPrefix + "/": 30, FSUsedPctPrefix + "/data": 90,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	// Host-level metrics come first, in HostMetrics order; every host metric was produced.
	if !reflect.DeepEqual(order[:len(HostMetrics)], HostMetrics) {
		t.Fatalf("order %v, want HostMetrics first %v", order, HostMetrics)
	}

	// The first sample of an agent covers no interval: no deltas, gauges only.
	s.IntervalSeconds = 0
	got = map[string]float64{}
	s.Flatten(func(name string, v float64) { got[name] = v })
	for name := range got {
		if IsDelta(name) {
			t.Errorf("delta %s emitted for a sample without an interval", name)
		}
	}
	if _, ok := got[MetricCPUBusyPct]; !ok {
		t.Error("gauges missing when there is no interval")
	}
}
