package i18n

// findingsCatalog holds the findings page's strings (server/console/findings.go); init merges it into catalog.
var findingsCatalog = map[string]Message{
	"nav.findings":       {"分析结论", "Findings"},
	"findings.title":     {"僵尸与高负载分析结论", "Idle and overload findings"},
	"findings.evaluated": {"评估时间：%s（北京时间）", "Evaluated at %s (China Standard Time)"},
	"findings.empty":     {"没有符合条件的分析结论。", "No finding matches."},
	"findings.excepted":  {"已例外", "Excepted"},
	"findings.open":      {"待处置", "Open"},
	"findings.frees":     {"可释放", "Frees"},
	"findings.needs":     {"需增加", "Needs"},
	"filter.kind":        {"结论", "Finding"},
	"col.finding":        {"结论", "Finding"},
	"col.confidence":     {"置信度", "Confidence"},
	"col.evidence":       {"依据数据", "Evidence"},
	"col.frees":          {"可释放 / 需增加", "Frees / needs"},
	"col.exception":      {"例外", "Exception"},

	"kind.comatose":          {"长期闲置", "Comatose"},
	"kind.zombie":            {"僵尸", "Zombie"},
	"kind.idle-candidate":    {"闲置候选", "Idle candidate"},
	"kind.watch":             {"关注", "Watch"},
	"kind.underused":         {"利用率低", "Underused"},
	"kind.overloaded":        {"高负载", "Overloaded"},
	"kind.insufficient-data": {"数据不足", "Insufficient data"},
	"kind.ok":                {"正常", "OK"},

	"report.title":    {"月度报告", "Monthly report"},
	"report.month":    {"月份", "Month"},
	"report.format":   {"格式", "Format"},
	"report.district": {"全区", "Whole district"},
	"report.download": {"下载报告", "Download report"},

	"exc.title":                {"例外登记", "Exceptions"},
	"exc.empty":                {"尚未登记例外。", "No exception registered."},
	"exc.type":                 {"类型", "Type"},
	"exc.type.dr-standby":      {"灾备", "Disaster-recovery standby"},
	"exc.type.scheduled-batch": {"定期批处理", "Scheduled batch"},
	"exc.type.seasonal":        {"季节性使用", "Seasonal use"},
	"exc.scope":                {"范围", "Scope"},
	"exc.host_id":              {"主机编号", "Host id"},
	"exc.system":               {"系统名称", "System name"},
	"exc.owner":                {"负责人", "Owner"},
	"exc.reason":               {"理由", "Reason"},
	"exc.schedule":             {"运行计划 / 月份", "Schedule / months"},
	"exc.months":               {"使用月份", "Busy months"},
	"exc.created":              {"登记日期", "Created"},
	"exc.expires":              {"失效日期", "Expires"},
	"exc.until":                {"有效期至", "until"},
	"exc.live":                 {"生效中", "Live"},
	"exc.expired":              {"已失效", "Expired"},
	"exc.add":                  {"登记例外", "Add exception"},
	"exc.delete":               {"删除", "Delete"},
	"exc.hint":                 {"主机编号与系统名称二选一；定期批处理须填写运行计划，季节性使用须填写月份；有效期最长十二个月。", "Give a host id or a system name; a scheduled batch needs a schedule, seasonal use its months; an exception lasts at most twelve months."},
}

func init() {
	for k, v := range findingsCatalog {
		if _, dup := catalog[k]; dup {
			panic("i18n: duplicate catalog key " + k)
		}
		catalog[k] = v
	}
}
