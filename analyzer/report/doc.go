package report

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/mask"
	"zhizhi/analyzer/narrative"
)

// Action is what a report recommends for a finding.
type Action string

// Actions (关停 / 整合 / 扩容 / 保留并说明理由).
const (
	ActionShutdown    Action = "shutdown"
	ActionConsolidate Action = "consolidate"
	ActionExpand      Action = "expand"
	ActionKeep        Action = "keep"
)

// ActionFor returns the recommendation for a finding of kind k with status st: open idle candidates, zombies
// and comatose systems are shut down, underused ones consolidated, overloaded ones expanded (even under an
// exception: no exception covers overload); watch, insufficient data and excepted findings are kept with a
// stated reason.
func ActionFor(k detect.Kind, st detect.Status) Action {
	if k == detect.KindOverloaded {
		return ActionExpand
	}
	if st == detect.StatusExcepted {
		return ActionKeep
	}
	switch k {
	case detect.KindZombie, detect.KindComatose, detect.KindIdleCandidate:
		return ActionShutdown
	case detect.KindUnderused:
		return ActionConsolidate
	}
	return ActionKeep
}

// Request selects a report.
type Request struct {
	// Month is any time in the reported month (Asia/Shanghai). The report is evaluated at the start of the
	// next month, or at the engine's clock when that is earlier (the month in progress).
	Month time.Time
	// Department limits the report to one department; empty means the whole district.
	Department string
	Lang       narrative.Lang
	// Demo labels the report as describing the simulated demo district.
	Demo bool
}

// Item is one recommendation: a system-level finding with its evidence facts.
type Item struct {
	Key                string // narrative section key
	System, Department string
	Kind               detect.Kind
	Status             detect.Status
	Confidence         detect.Confidence
	Action             Action
	Facts              []narrative.Fact
	Exception          *detect.Exception
}

// Department is one department's part of a report.
type Department struct {
	Key     string // narrative section key
	Name    string
	Systems []string
	Items   []Item
}

// Document is a generated report.
type Document struct {
	Title       string
	Month       time.Time // first day of the month, Asia/Shanghai
	Department  string
	Lang        narrative.Lang
	At          time.Time // evaluation time
	Overview    string    // section key of the overview
	Departments []Department
	Result      narrative.Result
	Demo        bool // the report describes the demo district
}

// Text returns the generated text of section key.
func (d Document) Text(key string) string {
	o, _ := d.Result.Section(key)
	return o.Text
}

func monthStart(t time.Time) time.Time {
	y, m, _ := t.In(detect.Location).Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, detect.Location)
}

// Generate evaluates the fleet for req's month and writes the report.
func (e *Engine) Generate(ctx context.Context, req Request) (Document, error) {
	if req.Lang == "" {
		req.Lang = narrative.ZH
	}
	if req.Lang != narrative.ZH && req.Lang != narrative.EN {
		return Document{}, fmt.Errorf("report: lang %q: want zh or en", req.Lang)
	}
	if req.Month.IsZero() {
		req.Month = e.clock()
	}
	month := monthStart(req.Month)
	at := month.AddDate(0, 1, 0)
	if now := e.clock(); now.Before(at) {
		at = now
	}
	if !at.After(month) {
		return Document{}, fmt.Errorf("report: month %s: has not started", month.Format("2006-01"))
	}
	snap, err := e.EvaluateAt(ctx, at)
	if err != nil {
		return Document{}, err
	}
	doc, nd, err := Build(snap, month, req)
	if err != nil {
		return Document{}, err
	}
	res, err := e.narr.Generate(ctx, nd, req.Lang)
	if err != nil {
		return Document{}, fmt.Errorf("report: %w", err)
	}
	doc.Result = res
	return doc, nil
}

// kindNames are the report's words for kinds.
var kindNames = map[narrative.Lang]map[detect.Kind]string{
	narrative.ZH: {
		detect.KindComatose: "长期闲置", detect.KindZombie: "僵尸", detect.KindIdleCandidate: "闲置候选",
		detect.KindWatch: "关注", detect.KindUnderused: "利用率低", detect.KindOverloaded: "高负载",
		detect.KindInsufficientData: "数据不足", detect.KindOK: "正常",
	},
	narrative.EN: {
		detect.KindComatose: "comatose", detect.KindZombie: "zombie", detect.KindIdleCandidate: "idle candidate",
		detect.KindWatch: "watch", detect.KindUnderused: "underused", detect.KindOverloaded: "overloaded",
		detect.KindInsufficientData: "insufficient data", detect.KindOK: "normal",
	},
}

var actionNames = map[narrative.Lang]map[Action]string{
	narrative.ZH: {ActionShutdown: "关停", ActionConsolidate: "整合", ActionExpand: "扩容", ActionKeep: "保留并说明理由"},
	narrative.EN: {ActionShutdown: "shut down", ActionConsolidate: "consolidate", ActionExpand: "expand",
		ActionKeep: "keep, with the reason stated"},
}

var confidenceNames = map[narrative.Lang]map[detect.Confidence]string{
	narrative.ZH: {detect.ConfidenceHigh: "高", detect.ConfidenceMedium: "中", detect.ConfidenceLow: "低"},
	narrative.EN: {detect.ConfidenceHigh: "high", detect.ConfidenceMedium: "medium", detect.ConfidenceLow: "low"},
}

var exceptionNames = map[narrative.Lang]map[detect.ExceptionType]string{
	narrative.ZH: {detect.ExceptDRStandby: "灾备", detect.ExceptScheduledBatch: "定期批处理", detect.ExceptSeasonal: "季节性使用"},
	narrative.EN: {detect.ExceptDRStandby: "disaster-recovery standby", detect.ExceptScheduledBatch: "scheduled batch",
		detect.ExceptSeasonal: "seasonal use"},
}

// KindName, ActionName, ConfidenceName and ExceptionName return the report's words in lang.
func KindName(l narrative.Lang, k detect.Kind) string { return kindNames[lang(l)][k] }

// ActionName returns the words for a.
func ActionName(l narrative.Lang, a Action) string { return actionNames[lang(l)][a] }

// ConfidenceName returns the words for c.
func ConfidenceName(l narrative.Lang, c detect.Confidence) string { return confidenceNames[lang(l)][c] }

// ExceptionName returns the words for t.
func ExceptionName(l narrative.Lang, t detect.ExceptionType) string {
	return exceptionNames[lang(l)][t]
}

func lang(l narrative.Lang) narrative.Lang {
	if l == narrative.EN {
		return l
	}
	return narrative.ZH
}

// Build turns an evaluated snapshot into the report's structure and the narrative document to generate
// (exported for tests and previews; Generate calls it).
func Build(snap Snapshot, month time.Time, req Request) (Document, narrative.Doc, error) {
	l := lang(req.Lang)
	doc := Document{Month: monthStart(month), Department: req.Department, Lang: l, At: snap.At, Overview: "overview",
		Demo: req.Demo}
	doc.Title = title(l, doc.Month, req.Department)
	nd := narrative.Doc{Title: doc.Title}

	byDept := map[string]*Department{}
	var names []string
	hosts := 0
	for _, sys := range snap.Report.Systems {
		if req.Department != "" && sys.Department != req.Department {
			continue
		}
		d := byDept[sys.Department]
		if d == nil {
			d = &Department{Name: sys.Department}
			byDept[sys.Department] = d
			names = append(names, sys.Department)
		}
		d.Systems = append(d.Systems, sys.System)
		hosts += len(sys.Hosts)
		for _, sf := range sys.Findings {
			if sf.Kind == detect.KindOK {
				continue
			}
			d.Items = append(d.Items, item(sys, sf))
		}
	}
	if req.Department != "" && len(names) == 0 {
		return Document{}, narrative.Doc{}, fmt.Errorf("report: department %q: no system monitored", req.Department)
	}
	slices.Sort(names)
	var all []Item
	for i, name := range names {
		d := byDept[name]
		d.Key = fmt.Sprintf("dept-%d", i+1)
		slices.SortStableFunc(d.Items, func(a, b Item) int { return severity[a.Kind] - severity[b.Kind] })
		for j := range d.Items {
			d.Items[j].Key = fmt.Sprintf("rec-%d-%d", i+1, j+1)
		}
		doc.Departments = append(doc.Departments, *d)
		all = append(all, d.Items...)
	}
	nd.Sections = append(nd.Sections, overviewSection(doc, all, len(names), hosts))
	for _, d := range doc.Departments {
		nd.Sections = append(nd.Sections, deptSection(d))
		for _, it := range d.Items {
			nd.Sections = append(nd.Sections, itemSection(it))
		}
	}
	return doc, nd, nil
}

func title(l narrative.Lang, month time.Time, dept string) string {
	if l == narrative.EN {
		scope := "District"
		if dept != "" {
			scope = dept
		}
		return fmt.Sprintf("%s: monthly report on idle (zombie) and overloaded systems, %s", scope, month.Format("January 2006"))
	}
	scope := "全区"
	if dept != "" {
		scope = dept
	}
	return fmt.Sprintf("%s%d年%d月僵尸系统与高负载系统监测报告", scope, month.Year(), int(month.Month()))
}

// hostFindings returns the host findings that make up sf.
func hostFindings(sys detect.SystemReport, sf detect.SystemFinding) []detect.Finding {
	var out []detect.Finding
	for _, h := range sys.Hosts {
		if !slices.Contains(sf.HostIDs, h.HostID) {
			continue
		}
		for _, f := range h.Findings {
			if f.Kind == sf.Kind || sf.Kind.IsIdle() && f.Kind.IsIdle() {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// item builds the recommendation of one system finding. Evidence over several hosts is summarised
// conservatively: the fewest idle days and lowest coverage, the highest load, the latest active day, the
// fullest disk and the earliest projected full date.
func item(sys detect.SystemReport, sf detect.SystemFinding) Item {
	it := Item{System: sys.System, Department: sys.Department, Kind: sf.Kind, Status: sf.Status,
		Confidence: sf.Confidence, Action: ActionFor(sf.Kind, sf.Status)}
	fs := hostFindings(sys, sf)
	if len(fs) == 0 {
		return it
	}
	ev := fs[0].Evidence
	agg := struct {
		idle14, idle30, run, hot int
		cov, cpu, mem, disk      float64
		maxDaily                 float64
		last, full               time.Time
	}{idle14: ev.IdleDays14, idle30: ev.IdleDays30, run: ev.CurrentRun.IdleDays, cov: ev.Coverage30}
	for _, f := range fs {
		e := f.Evidence
		agg.idle14, agg.idle30 = min(agg.idle14, e.IdleDays14), min(agg.idle30, e.IdleDays30)
		agg.run, agg.cov = min(agg.run, e.CurrentRun.IdleDays), min(agg.cov, e.Coverage30)
		agg.cpu, agg.mem = max(agg.cpu, e.WindowCPUP95), max(agg.mem, e.WindowMemP99)
		agg.hot, agg.maxDaily, agg.disk = max(agg.hot, e.HotDays), max(agg.maxDaily, e.MaxDailyCPUP95), max(agg.disk, e.DiskUsedPct)
		if e.LastActiveDay.After(agg.last) {
			agg.last = e.LastActiveDay
		}
		if t := e.DiskTrend; t != nil && !t.ProjectedFull.IsZero() && (agg.full.IsZero() || t.ProjectedFull.Before(agg.full)) {
			agg.full = t.ProjectedFull
		}
		if f.Exception != nil && it.Exception == nil {
			x := *f.Exception
			it.Exception = &x
		}
	}
	th := ev.Thresholds
	var facts []narrative.Fact
	add := func(f narrative.Fact) { facts = append(facts, f) }
	switch {
	case sf.Kind == detect.KindWatch:
		add(narrative.Count("window", "观察窗口天数", th.WatchWindow, "天", "days"))
		add(narrative.Count("idle", "窗口内空闲天数", agg.idle14, "天", "days"))
		add(narrative.Percent("cov", "数据覆盖率", 100*agg.cov, 1))
		add(narrative.Percent("cpu", "CPU使用率P95", agg.cpu, 1))
	case sf.Kind.IsIdle():
		add(narrative.Count("window", "统计窗口天数", th.CandidateWindow, "天", "days"))
		add(narrative.Count("idle", "窗口内空闲天数", agg.idle30, "天", "days"))
		if agg.run > 0 {
			add(narrative.Count("run", "当前连续空闲天数", agg.run, "天", "days"))
		}
		add(narrative.Percent("cov", "数据覆盖率", 100*agg.cov, 1))
		add(narrative.Percent("cpu", "CPU使用率P95", agg.cpu, 1))
	case sf.Kind == detect.KindUnderused:
		add(narrative.Percent("cpu", "CPU使用率P95", agg.cpu, 1))
		add(narrative.Percent("mem", "内存使用率P99", agg.mem, 1))
		add(narrative.Percent("cov", "数据覆盖率", 100*agg.cov, 1))
	case sf.Kind == detect.KindOverloaded:
		if agg.hot > 0 {
			add(narrative.Count("window", "观察窗口天数", th.HotWindow, "天", "days"))
			add(narrative.Count("hot", "高负载天数", agg.hot, "天", "days"))
			add(narrative.Percent("peak", "单日CPU使用率P95最高值", agg.maxDaily, 1))
		}
		add(narrative.Percent("mem", "内存使用率P99", agg.mem, 1))
		if agg.disk > 0 {
			add(narrative.Percent("disk", "最满磁盘使用率", agg.disk, 1))
		}
		if !agg.full.IsZero() {
			add(narrative.Day("full", "磁盘预计写满日期", agg.full))
		}
	case sf.Kind == detect.KindInsufficientData:
		add(narrative.Percent("cov", "数据覆盖率", 100*agg.cov, 1))
	}
	if sf.Kind.IsIdle() && !agg.last.IsZero() {
		add(narrative.Day("last", "最近活跃日", agg.last))
	}
	res := sf.Frees
	prefix, label := "f", "可释放"
	if sf.Kind == detect.KindOverloaded {
		res, prefix, label = sf.Needs, "n", "需增加"
	}
	if res != nil && (it.Action == ActionShutdown || it.Action == ActionConsolidate || it.Action == ActionExpand) {
		if res.VCPU > 0 {
			add(narrative.Quantity(prefix+"cpu", label+"vCPU", res.VCPU, 0, "个vCPU", "vCPU"))
		}
		if res.MemGiB > 0 {
			add(narrative.Quantity(prefix+"mem", label+"内存", res.MemGiB, 1, "GiB", "GiB"))
		}
		if res.StorageTB > 0 {
			add(narrative.Quantity(prefix+"tb", label+"存储", res.StorageTB, 2, "TB", "TB"))
		}
	}
	if x := it.Exception; x != nil && it.Status == detect.StatusExcepted {
		add(narrative.Day("expires", "例外有效期截止日", x.Expires.Add(-time.Nanosecond)))
	}
	it.Facts = facts
	return it
}

func has(facts []narrative.Fact, id string) bool {
	return slices.ContainsFunc(facts, func(f narrative.Fact) bool { return f.ID == id })
}

func overviewSection(doc Document, items []Item, depts, hosts int) narrative.Section {
	systems := 0
	for _, d := range doc.Departments {
		systems += len(d.Systems)
	}
	count := func(match func(Item) bool) int {
		n := 0
		for _, it := range items {
			if match(it) {
				n++
			}
		}
		return n
	}
	open := func(kinds ...detect.Kind) func(Item) bool {
		return func(it Item) bool { return it.Status == detect.StatusOpen && slices.Contains(kinds, it.Kind) }
	}
	var frees, needs detect.Resources
	for _, it := range items {
		for _, f := range it.Facts {
			switch f.ID {
			case "fcpu":
				frees.VCPU += f.Value
			case "fmem":
				frees.MemGiB += f.Value
			case "ftb":
				frees.StorageTB += f.Value
			case "ncpu":
				needs.VCPU += f.Value
			case "nmem":
				needs.MemGiB += f.Value
			case "ntb":
				needs.StorageTB += f.Value
			}
		}
	}
	facts := []narrative.Fact{
		narrative.Month("month", "报告月份", doc.Month),
		narrative.Count("depts", "部门数", depts, "个", "departments"),
		narrative.Count("systems", "监测系统数", systems, "个", "systems"),
		narrative.Count("hosts", "监测主机数", hosts, "台", "hosts"),
		narrative.Count("zombie", "僵尸及长期闲置系统数", count(open(detect.KindZombie, detect.KindComatose)), "个", ""),
		narrative.Count("candidate", "闲置候选系统数", count(open(detect.KindIdleCandidate)), "个", ""),
		narrative.Count("underused", "利用率低系统数", count(open(detect.KindUnderused)), "个", ""),
		narrative.Count("overloaded", "高负载系统数", count(func(it Item) bool { return it.Kind == detect.KindOverloaded }), "个", ""),
		narrative.Count("watch", "需关注系统数", count(open(detect.KindWatch)), "个", ""),
		narrative.Count("insufficient", "数据不足系统数", count(open(detect.KindInsufficientData)), "个", ""),
		narrative.Count("excepted", "已登记例外的结论数", count(func(it Item) bool { return it.Status == detect.StatusExcepted }), "项", ""),
		narrative.Quantity("fcpu", "可释放vCPU合计", frees.VCPU, 0, "个vCPU", "vCPU"),
		narrative.Quantity("fmem", "可释放内存合计", math.Round(frees.MemGiB*10)/10, 1, "GiB", "GiB"),
		narrative.Quantity("ftb", "可释放存储合计", math.Round(frees.StorageTB*100)/100, 2, "TB", "TB"),
		narrative.Quantity("ncpu", "需增加vCPU合计", needs.VCPU, 0, "个vCPU", "vCPU"),
		narrative.Quantity("nmem", "需增加内存合计", math.Round(needs.MemGiB*10)/10, 1, "GiB", "GiB"),
		narrative.Quantity("ntb", "需增加存储合计", math.Round(needs.StorageTB*100)/100, 2, "TB", "TB"),
	}
	scopeZH, scopeEN := "本区", "the district"
	var ents []narrative.Entity
	if doc.Department != "" {
		scopeZH, scopeEN = `{{name "dept"}}`, `{{name "dept"}}`
		ents = append(ents, narrative.Entity{ID: "dept", Kind: narrative.KindDepartment, Name: doc.Department})
	}
	return narrative.Section{
		Key: "overview",
		Instruction: map[narrative.Lang]string{
			narrative.ZH: "以正式公文语体撰写报告的总体情况段落：概述本月纳入监测的部门、系统和主机数量，各类结论（僵尸及长期闲置、闲置候选、利用率低、高负载、需关注、数据不足、已登记例外）的数量，以及关停和整合可释放、扩容需增加的资源。",
			narrative.EN: "Write the overview paragraph of the report in a formal official style: how many departments, systems and hosts were monitored this month, how many findings of each kind (zombie or comatose, idle candidate, underused, overloaded, watch, insufficient data, under exception), and the resources that shutdown and consolidation would free and expansion would need.",
		},
		Facts:    facts,
		Entities: ents,
		Template: map[narrative.Lang]string{
			narrative.ZH: strings.ReplaceAll(`{{fact "month"}}，SCOPE纳入监测的部门共{{fact "depts"}}、信息系统{{fact "systems"}}、主机{{fact "hosts"}}。经对资源使用数据分析，认定僵尸及长期闲置系统{{fact "zombie"}}，闲置候选系统{{fact "candidate"}}，利用率低系统{{fact "underused"}}，高负载系统{{fact "overloaded"}}，需持续关注系统{{fact "watch"}}，数据不足无法判定系统{{fact "insufficient"}}；另有{{fact "excepted"}}结论已登记例外。按建议对相关系统实施关停和整合，预计可释放{{fact "fcpu"}}、内存{{fact "fmem"}}、存储{{fact "ftb"}}；对高负载系统扩容，预计需增加{{fact "ncpu"}}、内存{{fact "nmem"}}、存储{{fact "ntb"}}。`, "SCOPE", scopeZH),
			narrative.EN: strings.ReplaceAll(`In {{fact "month"}}, SCOPE monitored {{fact "systems"}} and {{fact "hosts"}} in {{fact "depts"}}. The analysis of resource use found zombie or comatose systems: {{fact "zombie"}}; idle candidates: {{fact "candidate"}}; underused: {{fact "underused"}}; overloaded: {{fact "overloaded"}}; to watch: {{fact "watch"}}; insufficient data: {{fact "insufficient"}}; findings under a registered exception: {{fact "excepted"}}. Shutting down and consolidating as recommended would free {{fact "fcpu"}}, {{fact "fmem"}} of memory and {{fact "ftb"}} of storage; expanding the overloaded systems would need {{fact "ncpu"}}, {{fact "nmem"}} of memory and {{fact "ntb"}} of storage.`, "SCOPE", scopeEN),
		},
	}
}

func deptSection(d Department) narrative.Section {
	count := func(a Action) int {
		n := 0
		for _, it := range d.Items {
			if it.Action == a {
				n++
			}
		}
		return n
	}
	facts := []narrative.Fact{
		narrative.Count("systems", "部门监测系统数", len(d.Systems), "个", "systems"),
		narrative.Count("shutdown", "建议关停数", count(ActionShutdown), "个", ""),
		narrative.Count("consolidate", "建议整合数", count(ActionConsolidate), "个", ""),
		narrative.Count("expand", "建议扩容数", count(ActionExpand), "个", ""),
		narrative.Count("keep", "建议保留并说明理由数", count(ActionKeep), "个", ""),
	}
	ents := []narrative.Entity{{ID: "dept", Kind: narrative.KindDepartment, Name: d.Name}}
	var listZH, listEN []string
	for i, s := range d.Systems {
		id := fmt.Sprintf("sys%d", i+1)
		ents = append(ents, narrative.Entity{ID: id, Kind: narrative.KindSystem, Name: s})
		listZH = append(listZH, `“{{name "`+id+`"}}”`)
		listEN = append(listEN, `"{{name "`+id+`"}}"`)
	}
	return narrative.Section{
		Key: d.Key,
		Instruction: map[narrative.Lang]string{
			narrative.ZH: "以正式公文语体撰写该部门的情况段落：说明该部门纳入监测的系统（逐一列出系统名称）及建议关停、整合、扩容、保留并说明理由的系统数量。",
			narrative.EN: "Write this department's paragraph in a formal official style: the systems it has under monitoring (name each) and how many are recommended for shutdown, consolidation, expansion, or keeping with a stated reason.",
		},
		Facts:    facts,
		Entities: ents,
		Template: map[narrative.Lang]string{
			narrative.ZH: `{{name "dept"}}纳入监测的信息系统共{{fact "systems"}}，即` + strings.Join(listZH, "、") +
				`。其中建议关停{{fact "shutdown"}}，建议整合{{fact "consolidate"}}，建议扩容{{fact "expand"}}，建议保留并说明理由{{fact "keep"}}。`,
			narrative.EN: `{{name "dept"}} has {{fact "systems"}} under monitoring: ` + strings.Join(listEN, ", ") +
				`. Recommended for shutdown: {{fact "shutdown"}}; for consolidation: {{fact "consolidate"}}; for expansion: {{fact "expand"}}; to keep with a stated reason: {{fact "keep"}}.`,
		},
	}
}

func itemSection(it Item) narrative.Section {
	ents := []narrative.Entity{
		{ID: "sys", Kind: narrative.KindSystem, Name: it.System},
		{ID: "dept", Kind: narrative.KindDepartment, Name: it.Department},
	}
	excepted := it.Exception != nil && it.Status == detect.StatusExcepted
	if excepted {
		// Reasons are free text from an owner: masked here too, so that the template path never prints an ID or
		// phone number either (the prompt path masks every string again).
		ents = append(ents,
			narrative.Entity{ID: "owner", Kind: narrative.KindPerson, Name: it.Exception.Owner},
			narrative.Entity{ID: "reason", Kind: "note", Name: mask.Text(it.Exception.Reason)})
	}
	zh, en := itemTemplates(it, excepted)
	return narrative.Section{
		Key: it.Key,
		Instruction: map[narrative.Lang]string{
			narrative.ZH: fmt.Sprintf("以正式公文语体撰写对该系统的处置建议段落：说明监测结论（%s，置信度%s）及依据的数据，明确提出“%s”的建议%s。",
				KindName(narrative.ZH, it.Kind), ConfidenceName(narrative.ZH, it.Confidence), ActionName(narrative.ZH, it.Action),
				map[bool]string{true: "，并说明已登记的例外及其理由", false: ""}[excepted]),
			narrative.EN: fmt.Sprintf("Write the recommendation paragraph for this system in a formal official style: the finding (%s, %s confidence) and the data behind it, and the recommendation: %s%s.",
				KindName(narrative.EN, it.Kind), ConfidenceName(narrative.EN, it.Confidence), ActionName(narrative.EN, it.Action),
				map[bool]string{true: ", stating the registered exception and its reason", false: ""}[excepted]),
		},
		Facts:    it.Facts,
		Entities: ents,
		Template: map[narrative.Lang]string{narrative.ZH: zh, narrative.EN: en},
	}
}

// itemTemplates writes the deterministic recommendation for it, using only the facts it has.
func itemTemplates(it Item, excepted bool) (zh, en string) {
	f := it.Facts
	opt := func(id, s string) string {
		if has(f, id) {
			return s
		}
		return ""
	}
	kindZH, kindEN := KindName(narrative.ZH, it.Kind), KindName(narrative.EN, it.Kind)
	confZH, confEN := ConfidenceName(narrative.ZH, it.Confidence), ConfidenceName(narrative.EN, it.Confidence)
	zh = `“{{name "sys"}}”（{{name "dept"}}）监测结论为` + kindZH + `，置信度` + confZH + `。`
	en = `"{{name "sys"}}" ({{name "dept"}}) is found ` + kindEN + `, with ` + confEN + ` confidence. `
	switch {
	case it.Kind.IsIdle():
		zh += `近{{fact "window"}}中空闲{{fact "idle"}}` + opt("run", `，当前已连续空闲{{fact "run"}}`) +
			`，CPU使用率P95为{{fact "cpu"}}，数据覆盖率{{fact "cov"}}` + opt("last", `，最近活跃日为{{fact "last"}}`) + `。`
		en += `It was idle on {{fact "idle"}} of the last {{fact "window"}}` + opt("run", ` and has been idle for {{fact "run"}} in a row`) +
			`; P95 CPU was {{fact "cpu"}} and data coverage {{fact "cov"}}` + opt("last", `; its last active day was {{fact "last"}}`) + `. `
	case it.Kind == detect.KindUnderused:
		zh += `CPU使用率P95为{{fact "cpu"}}，内存使用率P99为{{fact "mem"}}，数据覆盖率{{fact "cov"}}。`
		en += `P95 CPU was {{fact "cpu"}} and P99 memory {{fact "mem"}}, with data coverage {{fact "cov"}}. `
	case it.Kind == detect.KindOverloaded:
		zh += opt("hot", `近{{fact "window"}}中有{{fact "hot"}}CPU使用率P95超过阈值，单日最高{{fact "peak"}}；`) +
			`内存使用率P99为{{fact "mem"}}` + opt("disk", `，最满磁盘已使用{{fact "disk"}}`) + opt("full", `，按当前增长趋势预计于{{fact "full"}}写满`) + `。`
		en += opt("hot", `On {{fact "hot"}} of the last {{fact "window"}} P95 CPU exceeded the threshold, peaking at {{fact "peak"}}; `) +
			`P99 memory was {{fact "mem"}}` + opt("disk", `; the fullest disk is {{fact "disk"}} used`) + opt("full", ` and at its current growth is projected to be full on {{fact "full"}}`) + `. `
	case it.Kind == detect.KindInsufficientData:
		zh += `数据覆盖率仅为{{fact "cov"}}，不足以作出判断。`
		en += `Data coverage was only {{fact "cov"}}, too little to judge. `
	}
	res := func(p string) (string, string) {
		var z, e []string
		if has(f, p+"cpu") {
			z, e = append(z, `{{fact "`+p+`cpu"}}`), append(e, `{{fact "`+p+`cpu"}}`)
		}
		if has(f, p+"mem") {
			z, e = append(z, `内存{{fact "`+p+`mem"}}`), append(e, `{{fact "`+p+`mem"}} of memory`)
		}
		if has(f, p+"tb") {
			z, e = append(z, `存储{{fact "`+p+`tb"}}`), append(e, `{{fact "`+p+`tb"}} of storage`)
		}
		return strings.Join(z, "、"), strings.Join(e, ", ")
	}
	switch it.Action {
	case ActionShutdown:
		z, e := res("f")
		zh += `建议关停` + map[bool]string{true: `，可释放` + z, false: ""}[z != ""] + `。`
		en += `Recommendation: shut it down` + map[bool]string{true: `, freeing ` + e, false: ""}[e != ""] + `.`
	case ActionConsolidate:
		z, e := res("f")
		zh += `建议整合` + map[bool]string{true: `，可释放` + z, false: ""}[z != ""] + `。`
		en += `Recommendation: consolidate it` + map[bool]string{true: `, freeing ` + e, false: ""}[e != ""] + `.`
	case ActionExpand:
		z, e := res("n")
		zh += `建议扩容` + map[bool]string{true: `，需增加` + z, false: ""}[z != ""] + `。`
		en += `Recommendation: expand it` + map[bool]string{true: `, adding ` + e, false: ""}[e != ""] + `.`
	case ActionKeep:
		switch {
		case excepted:
			tz, te := ExceptionName(narrative.ZH, it.Exception.Type), ExceptionName(narrative.EN, it.Exception.Type)
			zh += `该系统已登记` + tz + `例外，负责人{{name "owner"}}，理由为“{{name "reason"}}”，有效期至{{fact "expires"}}。建议保留并说明理由。`
			en += `It has a registered exception (` + te + `), owner {{name "owner"}}, reason "{{name "reason"}}", valid until {{fact "expires"}}. Recommendation: keep it, with the reason stated.`
		case it.Kind == detect.KindInsufficientData:
			zh += `建议保留并说明理由：请主管部门恢复数据采集后再作判断。`
			en += `Recommendation: keep it, with the reason stated: the department should restore data collection before a judgement is made.`
		default:
			zh += `建议保留并说明理由：请主管部门说明使用情况，本中心将持续观察。`
			en += `Recommendation: keep it, with the reason stated: the department should explain its use; monitoring continues.`
		}
	}
	return zh, en
}
