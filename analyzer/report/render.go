package report

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/narrative"
)

// Formats of a rendered report.
const (
	FormatMarkdown = "md"
	FormatHTML     = "html"
)

// Render writes doc in format (FormatMarkdown or FormatHTML).
func Render(doc Document, format string) ([]byte, error) {
	switch format {
	case FormatMarkdown:
		return Markdown(doc), nil
	case FormatHTML:
		return HTML(doc)
	}
	return nil, fmt.Errorf("report: format %q: want md or html", format)
}

// labels are the fixed words of the rendered report.
var labels = map[narrative.Lang]map[string]string{
	narrative.ZH: {
		"overview": "一、总体情况", "departments": "二、各部门情况", "recs": "处置建议", "appendix": "附录：生成记录",
		"evaluated": "评估时间", "generated": "生成时间", "section": "段落", "source": "来源", "model": "模型",
		"hash": "提示词哈希", "rejections": "模型答复被拒原因", "none": "无", "system": "系统", "finding": "结论",
		"action": "建议", "confidence": "置信度", "evidence": "依据数据", "exception": "例外", "note": "本报告中的数值均由系统根据监测数据计算，文字部分经数值核验；来源为 template 的段落由固定模板生成。",
		"no_findings": "本部门无需处置的结论。", "sep": "；", "colon": "：", "lp": "（", "rp": "）",
		"demo": "演示数据：本报告基于模拟生成的演示辖区，不代表任何真实系统的运行情况。",
	},
	narrative.EN: {
		"overview": "1. Overview", "departments": "2. Departments", "recs": "Recommendations", "appendix": "Appendix: how this report was written",
		"evaluated": "Evaluated at", "generated": "Generated at", "section": "Section", "source": "Source", "model": "Model",
		"hash": "Prompt hash", "rejections": "Model answers rejected because", "none": "none", "system": "System", "finding": "Finding",
		"action": "Recommendation", "confidence": "Confidence", "evidence": "Evidence", "exception": "Exception", "note": "Every number in this report is computed from monitoring data and every sentence was checked against those numbers; sections whose source is template were written from a fixed template.",
		"no_findings": "No finding requires action in this department.", "sep": "; ", "colon": ": ", "lp": " (", "rp": ")",
		"demo": "Demo data: this report describes a simulated district, not any real system.",
	},
}

func (d Document) label(k string) string { return labels[lang(d.Lang)][k] }

// evidence lists an item's facts as "label display".
func evidence(l narrative.Lang, it Item) string {
	var parts []string
	for _, f := range it.Facts {
		parts = append(parts, f.Label+" "+f.Shown(l))
	}
	return strings.Join(parts, labels[lang(l)]["sep"])
}

func findingName(l narrative.Lang, it Item) string {
	s := KindName(l, it.Kind)
	if it.Status == detect.StatusExcepted {
		s += map[narrative.Lang]string{narrative.ZH: "（已例外）", narrative.EN: " (excepted)"}[lang(l)]
	}
	return s
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// Markdown renders doc as Markdown.
func Markdown(doc Document) []byte {
	var b bytes.Buffer
	l := doc.Lang
	fmt.Fprintf(&b, "# %s\n\n", doc.Title)
	if doc.Demo {
		fmt.Fprintf(&b, "> **%s**\n\n", doc.label("demo"))
	}
	fmt.Fprintf(&b, "%s%s%s  \n%s%s%s\n\n", doc.label("evaluated"), doc.label("colon"), doc.At.In(detect.Location).Format("2006-01-02 15:04"),
		doc.label("generated"), doc.label("colon"), doc.Result.GeneratedAt.In(detect.Location).Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, "## %s\n\n%s\n\n", doc.label("overview"), doc.Text(doc.Overview))
	fmt.Fprintf(&b, "## %s\n\n", doc.label("departments"))
	for _, d := range doc.Departments {
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", d.Name, doc.Text(d.Key))
		if len(d.Items) == 0 {
			fmt.Fprintf(&b, "%s\n\n", doc.label("no_findings"))
			continue
		}
		fmt.Fprintf(&b, "#### %s\n\n", doc.label("recs"))
		for _, it := range d.Items {
			fmt.Fprintf(&b, "- **%s**%s%s · %s · %s %s%s%s%s\n", it.System, doc.label("lp"), findingName(l, it), ActionName(l, it.Action),
				doc.label("confidence"), ConfidenceName(l, it.Confidence), doc.label("rp"), doc.label("colon"), doc.Text(it.Key))
		}
		b.WriteString("\n")
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n|---|---|---|---|\n", doc.label("system"), doc.label("finding"),
			doc.label("action"), doc.label("evidence"))
		for _, it := range d.Items {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCell(it.System), mdCell(findingName(l, it)),
				mdCell(ActionName(l, it.Action)), mdCell(evidence(l, it)))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "## %s\n\n%s\n\n", doc.label("appendix"), doc.label("note"))
	fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n|---|---|---|---|---|\n", doc.label("section"), doc.label("source"),
		doc.label("model"), doc.label("hash"), doc.label("rejections"))
	for _, o := range doc.Result.Sections {
		rej := doc.label("none")
		if len(o.Rejections) > 0 {
			rej = strings.Join(o.Rejections, doc.label("sep"))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", o.Key, o.Source, mdCell(dash(o.Model)), dash(o.PromptHash), mdCell(rej))
	}
	return b.Bytes()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"text":       func(d Document, key string) string { return d.Text(key) },
	"label":      func(d Document, k string) string { return d.label(k) },
	"finding":    findingName,
	"action":     ActionName,
	"confidence": ConfidenceName,
	"evidence":   evidence,
	"ts":         func(d Document, which string) string { return tsOf(d, which) },
	"join":       strings.Join,
	"dash":       dash,
}).Parse(`<!DOCTYPE html>
<html lang="{{if eq .Lang "en"}}en{{else}}zh-CN{{end}}">
<head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:"FangSong","STFangsong","仿宋",serif;max-width:52em;margin:2em auto;line-height:1.8;color:#111}
h1{text-align:center;font-family:"SimHei","黑体",sans-serif;font-size:1.6em}
h2,h3,h4{font-family:"SimHei","黑体",sans-serif}
p{text-indent:2em}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:1em 0}
th,td{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}
.meta{text-align:center;color:#555}
.demo{text-indent:0;text-align:center;background:#fff4d6;border:1px solid #e0b84c;padding:.4em}
.appendix{font-size:.85em;color:#333}
</style></head>
<body>
<h1>{{.Title}}</h1>
{{if .Demo}}<p class="demo"><strong>{{label . "demo"}}</strong></p>{{end}}
<p class="meta">{{label . "evaluated"}}{{label . "colon"}}{{ts . "at"}} · {{label . "generated"}}{{label . "colon"}}{{ts . "gen"}}</p>
<h2>{{label . "overview"}}</h2>
<p>{{text . .Overview}}</p>
<h2>{{label . "departments"}}</h2>
{{$d := .}}{{range .Departments}}
<h3>{{.Name}}</h3>
<p>{{text $d .Key}}</p>
{{if .Items}}<h4>{{label $d "recs"}}</h4>
{{range .Items}}<p><strong>{{.System}}</strong>{{label $d "lp"}}{{finding $d.Lang .}} · {{action $d.Lang .Action}} · {{label $d "confidence"}} {{confidence $d.Lang .Confidence}}{{label $d "rp"}}{{label $d "colon"}}{{text $d .Key}}</p>
{{end}}<table><thead><tr><th>{{label $d "system"}}</th><th>{{label $d "finding"}}</th><th>{{label $d "action"}}</th><th>{{label $d "evidence"}}</th></tr></thead><tbody>
{{range .Items}}<tr><td>{{.System}}</td><td>{{finding $d.Lang .}}</td><td>{{action $d.Lang .Action}}</td><td>{{evidence $d.Lang .}}</td></tr>
{{end}}</tbody></table>{{else}}<p>{{label $d "no_findings"}}</p>{{end}}
{{end}}
<section class="appendix">
<h2>{{label . "appendix"}}</h2>
<p>{{label . "note"}}</p>
<table><thead><tr><th>{{label . "section"}}</th><th>{{label . "source"}}</th><th>{{label . "model"}}</th><th>{{label . "hash"}}</th><th>{{label . "rejections"}}</th></tr></thead><tbody>
{{range .Result.Sections}}<tr><td>{{.Key}}</td><td>{{.Source}}</td><td>{{dash .Model}}</td><td>{{dash .PromptHash}}</td><td>{{if .Rejections}}{{join .Rejections "; "}}{{else}}{{label $d "none"}}{{end}}</td></tr>
{{end}}</tbody></table>
</section>
</body>
</html>
`))

func tsOf(d Document, which string) string {
	t := d.At
	if which == "gen" {
		t = d.Result.GeneratedAt
	}
	return t.In(detect.Location).Format("2006-01-02 15:04")
}

// HTML renders doc as a standalone HTML page (names and model text are escaped).
func HTML(doc Document) ([]byte, error) {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, doc); err != nil {
		return nil, fmt.Errorf("report: render html: %w", err)
	}
	return b.Bytes(), nil
}
