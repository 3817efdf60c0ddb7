// Package demo simulates a district: departments, systems and hosts with a year of believable resource history.
//
// Everything is deterministic from a seed. The load patterns are the ones a reviewer should be able to point at
// in the annual heatmap: steady systems, working-day systems that rest on weekends and statutory holidays,
// month-end batch systems, seasonal systems, overloaded systems, systems idle for months, and a host whose agent
// was silent for three weeks (a gap, not idleness).
package demo

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"zhizhi/collector/calendar"
)

// Pattern is the load profile of a simulated system.
type Pattern string

// The simulated load profiles.
const (
	Steady     Pattern = "steady"     // business system busy around the clock at a moderate level
	Workday    Pattern = "workday"    // busy on working days in office hours, quiet on weekends and holidays
	MonthEnd   Pattern = "month-end"  // quiet except a batch run in the last days of every month
	Seasonal   Pattern = "seasonal"   // busy only in its season (tax filing, school enrolment)
	Overloaded Pattern = "overloaded" // CPU above 80% most days, disk filling up
	Idle       Pattern = "idle"       // nobody has used it for months
	GapAgent   Pattern = "agent-gap"  // a working-day system whose agent was silent for three weeks
	Standby    Pattern = "dr-standby" // disaster-recovery standby: idle by design
)

// Department is a simulated department with its systems.
type Department struct {
	Name    string
	Systems []System
}

// System is a simulated 政务信息化系统 with its hosts.
type System struct {
	Name    string
	Pattern Pattern
	// SeasonMonths are the busy months of a Seasonal system.
	SeasonMonths []time.Month
	// IdleSince is the first idle day of an Idle system.
	IdleSince time.Time
	Hosts     []Host
}

// Host is a simulated server.
type Host struct {
	Name      string
	VCPU      int
	MemBytes  uint64
	DiskBytes uint64
	// Base is the host's base CPU level in percent; each host of a system differs a little.
	Base float64
	// GapFrom and GapTo bound the days its agent was silent (GapAgent systems only), [GapFrom, GapTo).
	GapFrom, GapTo time.Time
	// DiskStart is the fraction of the disk used at the start of the simulated year.
	DiskStart float64
	// DiskGrowth is the daily growth of used disk as a fraction of the disk.
	DiskGrowth float64
	// MemBase is the memory used in percent; memory alone never makes a host busy.
	MemBase float64
}

type sysSpec struct {
	name    string
	pattern Pattern
	season  []time.Month
	hosts   int
}

// catalog is the simulated district: 24 departments, 72 systems. Host counts are per system.
var catalog = []struct {
	dept    string
	systems []sysSpec
}{
	{"公安局", []sysSpec{{"人口信息管理系统", Steady, nil, 4}, {"治安视频联网平台", Overloaded, nil, 4}, {"出入境预约系统", Workday, nil, 2}}},
	{"民政局", []sysSpec{{"社会救助管理系统", Workday, nil, 3}, {"婚姻登记系统", Workday, nil, 2}, {"低保核对比对系统", MonthEnd, nil, 2}}},
	{"人社局", []sysSpec{{"社会保险经办系统", Steady, nil, 4}, {"就业服务平台", Workday, nil, 2}, {"工资发放批处理系统", MonthEnd, nil, 2}}},
	{"残联", []sysSpec{{"残疾人证管理系统", Workday, nil, 2}, {"康复服务档案系统", Idle, nil, 1}, {"助残补贴发放系统", MonthEnd, nil, 1}}},
	{"卫健委", []sysSpec{{"全民健康信息平台", Overloaded, nil, 4}, {"疫情防控信息系统", Idle, nil, 3}, {"家庭医生签约系统", Workday, nil, 2}}},
	{"市场监管局", []sysSpec{{"企业登记注册系统", Workday, nil, 3}, {"食品安全追溯平台", Steady, nil, 2}, {"12315投诉举报系统", GapAgent, nil, 2}}},
	{"教育局", []sysSpec{{"义务教育招生入学系统", Seasonal, []time.Month{time.June, time.July, time.August}, 3}, {"学籍管理系统", Workday, nil, 2}, {"教师培训平台", Idle, nil, 1}}},
	{"财政局", []sysSpec{{"预算一体化系统", Steady, nil, 3}, {"国库集中支付系统", MonthEnd, nil, 2}, {"非税收入收缴系统", Workday, nil, 2}}},
	{"税务局", []sysSpec{{"个税汇算服务系统", Seasonal, []time.Month{time.March, time.April, time.May, time.June}, 3}, {"发票管理系统", Steady, nil, 2}, {"税费申报系统", MonthEnd, nil, 2}}},
	{"自然资源和规划局", []sysSpec{{"不动产登记系统", Workday, nil, 3}, {"国土空间规划一张图", Steady, nil, 2}, {"地质灾害监测系统", Standby, nil, 2}}},
	{"住建局", []sysSpec{{"建筑市场监管平台", Workday, nil, 2}, {"住房公积金系统", Steady, nil, 3}, {"房产交易备案系统", Workday, nil, 2}}},
	{"交通运输局", []sysSpec{{"公交运营监管系统", Steady, nil, 2}, {"路政执法系统", Workday, nil, 1}, {"旧版运政管理系统", Idle, nil, 2}}},
	{"水利局", []sysSpec{{"防汛抗旱指挥系统", Seasonal, []time.Month{time.June, time.July, time.August, time.September}, 2}, {"水资源监测系统", Steady, nil, 2}, {"河长制管理平台", Workday, nil, 1}}},
	{"农业农村局", []sysSpec{{"农村产权交易平台", Workday, nil, 2}, {"惠农补贴发放系统", MonthEnd, nil, 1}, {"农技推广服务系统", Idle, nil, 1}}},
	{"商务局", []sysSpec{{"外贸企业服务平台", Workday, nil, 2}, {"消费券发放系统", Idle, nil, 2}, {"市场运行监测系统", Steady, nil, 1}}},
	{"文广旅局", []sysSpec{{"智慧旅游平台", Steady, nil, 2}, {"文化场馆预约系统", Workday, nil, 2}, {"数字档案馆系统", Standby, nil, 1}}},
	{"应急管理局", []sysSpec{{"应急指挥调度系统", Steady, nil, 3}, {"安全生产监管系统", Workday, nil, 2}, {"灾备演练平台", Standby, nil, 2}}},
	{"生态环境局", []sysSpec{{"污染源在线监控系统", Overloaded, nil, 2}, {"环评审批系统", Workday, nil, 1}, {"排污许可管理系统", MonthEnd, nil, 1}}},
	{"统计局", []sysSpec{{"统计联网直报系统", MonthEnd, nil, 2}, {"经济普查系统", Idle, nil, 2}, {"统计数据发布平台", Workday, nil, 1}}},
	{"医保局", []sysSpec{{"医保结算系统", Overloaded, nil, 4}, {"医保基金监管系统", Workday, nil, 2}, {"异地就医备案系统", Workday, nil, 1}}},
	{"数据局", []sysSpec{{"公共数据平台", Steady, nil, 4}, {"数据共享交换平台", Workday, nil, 3}, {"一网统管平台", Overloaded, nil, 3}}},
	{"行政审批局", []sysSpec{{"政务服务一网通办系统", Workday, nil, 3}, {"电子证照库", Steady, nil, 2}, {"12345热线系统", GapAgent, nil, 2}}},
	{"司法局", []sysSpec{{"公共法律服务平台", Workday, nil, 2}, {"社区矫正管理系统", Steady, nil, 2}, {"人民调解系统", Idle, nil, 1}}},
	{"退役军人事务局", []sysSpec{{"优抚对象管理系统", Workday, nil, 2}, {"退役军人服务平台", MonthEnd, nil, 1}, {"拥军优属档案系统", Idle, nil, 1}}},
}

// Build returns the simulated district for a year ending at end (exclusive), deterministic from seed.
func Build(seed uint64, end time.Time) []Department {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Department, 0, len(catalog))
	hostNo, idle := 0, 0
	for di, d := range catalog {
		dep := Department{Name: d.dept}
		for si, s := range d.systems {
			sys := System{Name: s.name, Pattern: s.pattern, SeasonMonths: s.season}
			if s.pattern == Idle {
				// Idle since 100 to 300 days before the end: some are zombies (90+ idle days), some comatose (180+).
				idle++
				days := []int{110, 140, 200, 260, 300}[idle%5] + rng.IntN(20)
				sys.IdleSince = dayOf(end.AddDate(0, 0, -days))
			}
			for h := 0; h < s.hosts; h++ {
				hostNo++
				vcpu := []int{4, 8, 8, 16, 32}[rng.IntN(5)]
				mem := uint64([]int{8, 16, 32, 64}[rng.IntN(4)]) << 30
				disk := uint64([]int{200, 500, 1000, 2000}[rng.IntN(4)]) << 30
				host := Host{
					Name:       fmt.Sprintf("jy-%s-%02d%02d-%d", pinyinTag(di), di+1, si+1, h+1),
					VCPU:       vcpu,
					MemBytes:   mem,
					DiskBytes:  disk,
					Base:       0.85 + 0.3*rng.Float64(),
					DiskStart:  0.2 + 0.4*rng.Float64(),
					DiskGrowth: 0.0002 * rng.Float64(),
					MemBase:    35 + 30*rng.Float64(),
				}
				switch s.pattern {
				case Overloaded:
					host.DiskStart = 0.55 + 0.1*rng.Float64()
					host.DiskGrowth = 0.0009 + 0.0003*rng.Float64()
					host.MemBase = 70 + 15*rng.Float64()
				case GapAgent:
					if h == 0 {
						// Three weeks of silence, ending about two months before the end of the year.
						host.GapTo = dayOf(end.AddDate(0, 0, -60))
						host.GapFrom = host.GapTo.AddDate(0, 0, -21)
					}
				}
				sys.Hosts = append(sys.Hosts, host)
			}
			dep.Systems = append(dep.Systems, sys)
		}
		out = append(out, dep)
	}
	return out
}

// pinyinTag is a short host-name tag per department index, so host names stay ASCII.
func pinyinTag(i int) string {
	tags := []string{"ga", "mz", "rs", "cl", "wj", "sj", "jy", "cz", "sw", "zr", "zj", "jt", "sl", "nn", "su", "wl", "yj",
		"st", "tj", "yb", "sjj", "sp", "sf", "tv"}
	if i < len(tags) {
		return tags[i]
	}
	return fmt.Sprintf("d%d", i)
}

func dayOf(t time.Time) time.Time {
	t = t.In(calendar.Shanghai)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, calendar.Shanghai)
}

// Hour is the simulated activity of one host in one hour.
type Hour struct {
	CPU            float64 // percent, average over the hour
	CPUPeak        float64 // percent, the hour's 95th percentile
	Mem            float64 // percent
	NetBytes       float64 // rx+tx in the hour
	DiskWriteBytes float64
	NewInbound     float64
	Sessions       float64
}

// Silent reports whether the host's agent sent nothing on the day of t.
func (h *Host) Silent(t time.Time) bool {
	if h.GapFrom.IsZero() {
		return false
	}
	d := dayOf(t)
	return !d.Before(h.GapFrom) && d.Before(h.GapTo)
}

// Activity returns the activity level (0..1) of a system in the hour starting at t, before host noise.
func (s *System) Activity(t time.Time) float64 {
	t = t.In(calendar.Shanghai)
	hour := float64(t.Hour()) + float64(t.Minute())/60
	office := 0.0
	if hour >= 8.5 && hour < 17.5 {
		office = 1 - 0.35*math.Abs(hour-12.5)/4.5
		if hour >= 11.75 && hour < 13.5 {
			office *= 0.6 // lunch
		}
	}
	workday := calendar.IsWorkday(t)
	switch s.Pattern {
	case Steady:
		return 0.35 + 0.15*math.Sin((hour-6)/24*2*math.Pi)
	case Workday, GapAgent:
		if !workday {
			return 0.04
		}
		return 0.06 + 0.6*office
	case MonthEnd:
		last := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, calendar.Shanghai).Day()
		if t.Day() > last-3 {
			if hour < 6 || hour >= 20 {
				return 0.9
			}
			return 0.55
		}
		if workday {
			return 0.03 + 0.05*office
		}
		return 0.02
	case Seasonal:
		in := false
		for _, m := range s.SeasonMonths {
			if t.Month() == m {
				in = true
			}
		}
		if !in {
			return 0.015
		}
		if !workday {
			return 0.25
		}
		return 0.3 + 0.6*office
	case Overloaded:
		return 0.8 + 0.12*office + 0.05*math.Sin(hour/24*2*math.Pi)
	case Idle:
		if !s.IdleSince.IsZero() && !t.Before(s.IdleSince) {
			return 0.005
		}
		if !workday {
			return 0.04
		}
		return 0.05 + 0.35*office
	case Standby:
		return 0.01
	}
	return 0.1
}

// HourAt simulates one host in the hour starting at t. The result depends only on (seed, host, t).
func (s *System) HourAt(seed uint64, h *Host, t time.Time) Hour {
	var pcg rand.PCG
	pcg.Seed(seed^hash(h.Name), uint64(t.Unix()))
	rng := rand.New(&pcg)
	a := s.Activity(t)
	noise := 1 + 0.15*(rng.Float64()-0.5)
	cpu := clamp(100*a*h.Base*noise, 0.2, 99.5)
	idle := a < 0.02
	if idle {
		cpu = 0.3 + 1.2*rng.Float64()
	}
	out := Hour{
		CPU:     cpu,
		CPUPeak: clamp(cpu*(1.15+0.2*rng.Float64()), cpu, 100),
		Mem:     clamp(h.MemBase+10*a+2*(rng.Float64()-0.5), 1, 99.5),
	}
	if idle {
		out.NetBytes = 20_000 + 60_000*rng.Float64() // ARP, NTP, monitoring: well under 5 MB a day
		out.DiskWriteBytes = 200_000 + 600_000*rng.Float64()
		return out
	}
	out.NetBytes = a * (50 << 20) * float64(h.VCPU) / 8 * noise
	out.DiskWriteBytes = a * (80 << 20) * noise
	out.NewInbound = math.Round(a * 400 * noise)
	if a > 0.2 {
		out.Sessions = float64(rng.IntN(3))
	}
	return out
}

// DiskUsedPct is the fullest filesystem's use on day t (percent).
func (h *Host) DiskUsedPct(start, t time.Time) float64 {
	days := t.Sub(start).Hours() / 24
	return clamp(100*(h.DiskStart+h.DiskGrowth*days), 1, 99.9)
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func hash(s string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(s))
	return f.Sum64()
}
