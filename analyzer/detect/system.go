package detect

import (
	"slices"
	"strings"
)

// SystemReport is the findings for one system (hosts grouped by HostInput.System), with the host details.
type SystemReport struct {
	System, Department string // Department of the system's first host
	Findings           []SystemFinding
	Hosts              []HostReport
}

// SystemFinding is a conclusion about a whole system, aggregated from its hosts:
//   - idle class: the system's kind is the least idle of its hosts' idle-class kinds (a system is a zombie only
//     if every host is at least a zombie); a host without an idle-class finding means no system idle finding; a
//     host with insufficient data while the others are idle makes it insufficient-data (reason
//     hosts-insufficient-data): one unobserved host may be the one doing the work.
//   - overloaded: if any host is overloaded (those hosts are listed).
//   - underused: if every host is underused or at least an idle candidate, and at least one is underused.
//   - ok: none of these.
//
// Status is excepted only when every contributing host finding is excepted. Confidence is the lowest of the
// hosts' for idle and underused findings, the highest for overloaded. Frees and Needs are sums over hosts.
type SystemFinding struct {
	Kind       Kind
	Status     Status
	Reasons    []Reason
	Confidence Confidence
	Frees      *Resources
	Needs      *Resources
	HostIDs    []int64 // hosts whose findings make up this one
}

func confRank(c Confidence) int {
	switch c {
	case ConfidenceHigh:
		return 3
	case ConfidenceMedium:
		return 2
	case ConfidenceLow:
		return 1
	}
	return 0
}

// Systems groups host reports by system (sorted by system name; hosts keep their order) and aggregates them.
func Systems(hosts []HostReport) []SystemReport {
	idx := map[string]int{}
	var out []SystemReport
	for _, h := range hosts {
		i, ok := idx[h.System]
		if !ok {
			i = len(out)
			idx[h.System] = i
			out = append(out, SystemReport{System: h.System, Department: h.Department})
		}
		out[i].Hosts = append(out[i].Hosts, h)
	}
	for i := range out {
		out[i].Findings = aggregate(out[i].Hosts)
	}
	slices.SortStableFunc(out, func(a, b SystemReport) int { return strings.Compare(a.System, b.System) })
	return out
}

// acc accumulates host findings into one system finding.
type acc struct {
	f       SystemFinding
	open    bool
	lowConf bool // take the lowest confidence (else the highest)
}

func (a *acc) add(hostID int64, f Finding) {
	a.f.HostIDs = append(a.f.HostIDs, hostID)
	if f.Status == StatusOpen {
		a.open = true
	}
	for _, r := range f.Reasons {
		if !slices.Contains(a.f.Reasons, r) {
			a.f.Reasons = append(a.f.Reasons, r)
		}
	}
	switch {
	case a.f.Confidence == "":
		a.f.Confidence = f.Confidence
	case a.lowConf == (confRank(f.Confidence) < confRank(a.f.Confidence)):
		a.f.Confidence = f.Confidence
	}
	sum := func(dst **Resources, r *Resources) {
		if r == nil {
			return
		}
		if *dst == nil {
			*dst = &Resources{}
		}
		(*dst).VCPU += r.VCPU
		(*dst).MemGiB += r.MemGiB
		(*dst).StorageTB += r.StorageTB
	}
	sum(&a.f.Frees, f.Frees)
	sum(&a.f.Needs, f.Needs)
}

func (a *acc) done() SystemFinding {
	a.f.Status = StatusExcepted
	if a.open {
		a.f.Status = StatusOpen
	}
	return a.f
}

func aggregate(hosts []HostReport) []SystemFinding {
	var out []SystemFinding

	over := acc{f: SystemFinding{Kind: KindOverloaded}}
	for _, h := range hosts {
		if f, ok := h.Find(KindOverloaded); ok {
			over.add(h.HostID, f)
		}
	}
	if len(over.f.HostIDs) > 0 {
		out = append(out, over.done())
	}

	// Idle class.
	minRank, sufficient, insufficient := 5, 0, 0
	for _, h := range hosts {
		if _, ok := h.Find(KindInsufficientData); ok {
			insufficient++
			continue
		}
		sufficient++
		r := 0
		if f, ok := h.idleFinding(); ok {
			r = f.Kind.idleRank()
		}
		minRank = min(minRank, r)
	}
	switch {
	case sufficient == 0 && insufficient > 0:
		ins := acc{f: SystemFinding{Kind: KindInsufficientData}, lowConf: true}
		for _, h := range hosts {
			f, _ := h.Find(KindInsufficientData)
			ins.add(h.HostID, f)
		}
		out = append(out, ins.done())
	case minRank > 0 && insufficient > 0:
		ins := acc{f: SystemFinding{Kind: KindInsufficientData, Reasons: []Reason{ReasonHostsInsufficient}}, lowConf: true}
		for _, h := range hosts {
			if f, ok := h.Find(KindInsufficientData); ok {
				ins.add(h.HostID, f)
			}
		}
		out = append(out, ins.done())
	case minRank > 0:
		kind := []Kind{"", KindWatch, KindIdleCandidate, KindZombie, KindComatose}[minRank]
		idle := acc{f: SystemFinding{Kind: kind}, lowConf: true}
		for _, h := range hosts {
			f, _ := h.idleFinding()
			if minRank < KindIdleCandidate.idleRank() {
				f.Frees = nil
			}
			idle.add(h.HostID, f)
		}
		out = append(out, idle.done())
	}

	// Underused.
	if len(over.f.HostIDs) == 0 && minRank < KindIdleCandidate.idleRank() {
		under := acc{f: SystemFinding{Kind: KindUnderused}, lowConf: true}
		all := true
		for _, h := range hosts {
			if f, ok := h.Find(KindUnderused); ok {
				under.add(h.HostID, f)
				continue
			}
			if f, ok := h.idleFinding(); ok && f.Kind.idleRank() >= KindIdleCandidate.idleRank() {
				continue
			}
			all = false
		}
		if all && len(under.f.HostIDs) > 0 {
			out = append(out, under.done())
		}
	}

	if len(out) == 0 {
		ok := acc{f: SystemFinding{Kind: KindOK}, lowConf: true}
		for _, h := range hosts {
			ok.add(h.HostID, h.Primary())
		}
		f := ok.done()
		f.Reasons, f.Frees, f.Needs = nil, nil, nil
		out = append(out, f)
	}
	return out
}
